"""The GIL-holding crypto (``confidential/sodium.py``, ``envelope.body_hash``) agrees with the libraries."""

from __future__ import annotations

import ctypes
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk.confidential import envelope, sodium
from atoma_sdk.errors import KeyMismatchError

nacl_bindings = pytest.importorskip("nacl.bindings")

P = 2**255 - 19
# X25519 u-coordinates of small order (and their non-canonical forms): the shared secret is all zeros.
LOW_ORDER_U = [
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P - 1,
    P,
    P + 1,
]


Lib = sodium.Sodium | sodium.PyNaClBindings


@pytest.fixture(scope="module", params=["PyDLL", "PyNaCl's bindings (the fallback)"])
def lib(request: pytest.FixtureRequest) -> Lib:
    if request.param != "PyDLL":
        return sodium.PyNaClBindings()
    loaded = sodium.library()
    assert isinstance(loaded, sodium.Sodium), "PyNaCl's wheels export libsodium's symbols"
    return loaded


def test_every_function_keeps_the_gil() -> None:
    # ctypes releases the GIL around a call unless the function comes from a PyDLL (FUNCFLAG_PYTHONAPI).
    lib = sodium.library()
    assert isinstance(lib, sodium.Sodium) and lib.holds_gil
    for function in (lib._keypair, lib._scalarmult, lib._verify):
        assert function._flags_ & ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def test_the_shared_secret_is_the_one_the_peer_derives(lib: Lib) -> None:
    peer = X25519PrivateKey.generate()
    pair = lib.key_and_secret(envelope.public_key_bytes(peer))
    assert pair is not None
    public, shared = pair
    assert len(public) == len(shared) == 32
    assert peer.exchange(X25519PublicKey.from_public_bytes(public)) == shared
    assert lib.key_and_secret(envelope.public_key_bytes(peer))[0] != public  # type: ignore[index]


@pytest.mark.parametrize("u", LOW_ORDER_U)
def test_low_order_peer_keys_are_refused(lib: Lib, u: int) -> None:
    key = (u % 2**256).to_bytes(32, "little")
    assert lib.key_and_secret(key) is None


def test_a_peer_key_of_the_wrong_length_is_refused(lib: Lib) -> None:
    assert lib.key_and_secret(bytes(31)) is None and lib.key_and_secret(bytes(33)) is None


@settings(max_examples=150, deadline=None)
@given(message=st.binary(max_size=300), flip=st.integers(min_value=-1, max_value=127))
def test_verify_agrees_with_pynacl(lib: Lib, message: bytes, flip: int) -> None:
    public, secret = nacl_bindings.crypto_sign_keypair()
    signature = bytearray(nacl_bindings.crypto_sign(message, secret)[:64])
    key = bytearray(public)
    if 0 <= flip < 64:
        signature[flip] ^= 0x01
    elif flip >= 64:
        key[flip - 64 if flip < 96 else flip - 96] ^= 0x80
    try:
        nacl_bindings.crypto_sign_open(bytes(signature) + message, bytes(key))
        expected = True
    except Exception:  # PyNaCl raises BadSignatureError, or ValueError for a bad key
        expected = False
    assert lib.verify(bytes(signature), message, bytes(key)) is expected
    assert expected is (flip < 0)


def test_verify_refuses_wrong_lengths(lib: Lib) -> None:
    public, secret = nacl_bindings.crypto_sign_keypair()
    signature = nacl_bindings.crypto_sign(b"m", secret)[:64]
    assert lib.verify(signature, b"m", public)
    assert not lib.verify(signature[:63], b"m", public)
    assert not lib.verify(signature + b"\0", b"m", public)
    assert not lib.verify(signature, b"m", public[:31])


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 4094, 4095, 4096, 65535, 65536, 65537, 200_000])
def test_body_hash_in_pieces_is_blake2b_of_the_whole(size: int) -> None:
    # Bodies up to HASH_WITH_GIL_UP_TO are hashed in pieces that keep the GIL; the digest must not change.
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert envelope.body_hash(data) == hashlib.blake2b(data, digest_size=32).digest()


@pytest.mark.parametrize("without_pynacl", [False, True])
def test_fresh_key_and_secret_either_way(monkeypatch: pytest.MonkeyPatch, without_pynacl: bool) -> None:
    if without_pynacl:  # as without atoma-sdk[fast]: cryptography makes the key
        monkeypatch.setattr(sodium, "library", lambda: None)
    peer = X25519PrivateKey.generate()
    public, shared = envelope.fresh_key_and_secret(envelope.public_key_bytes(peer))
    assert peer.exchange(X25519PublicKey.from_public_bytes(public)) == shared
    with pytest.raises(KeyMismatchError):
        envelope.fresh_key_and_secret(bytes(32))
