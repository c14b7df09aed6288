"""Both Ed25519 backends (PyNaCl from ``atoma-sdk[fast]``, and cryptography) against the §9 vectors."""

from __future__ import annotations

import json

import pytest

from atoma_sdk.confidential import envelope, sui
from atoma_sdk.errors import SignatureError

from .test_envelope_vectors import CHUNK0_PT, CHUNK0_SIG, RESPONSE_BODY, RESPONSE_PT, SIGNER_ADDRESS

BACKENDS: list[sui.Ed25519Backend] = ["cryptography", "pynacl"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> sui.Ed25519Backend:
    name: sui.Ed25519Backend = request.param
    if name == "pynacl":
        pytest.importorskip("nacl.bindings")
    return name


def test_vector_signatures_verify(backend: sui.Ed25519Backend) -> None:
    checker = sui.SignatureChecker(backend=backend)
    response = json.loads(RESPONSE_BODY)
    signer = checker.verify(response["signature"], envelope.body_hash(RESPONSE_PT))
    assert signer.address == SIGNER_ADDRESS
    # The same signer again (the cached key), then a chunk of a stream.
    assert checker.verify(CHUNK0_SIG, envelope.body_hash(CHUNK0_PT)) is signer
    with pytest.raises(SignatureError):
        checker.verify(CHUNK0_SIG, envelope.body_hash(RESPONSE_PT))


def test_a_new_signer_replaces_the_cached_key(backend: sui.Ed25519Backend) -> None:
    checker = sui.SignatureChecker(backend=backend)
    digest = envelope.body_hash(b"answer")
    first, second = sui.SuiKeyPair.generate(), sui.SuiKeyPair.generate()
    assert checker.verify(first.sign_hash(digest), digest).address == first.address
    assert checker.verify(second.sign_hash(digest), digest).address == second.address
    forged = envelope.b64d(first.sign_hash(digest), what="s")[:65] + second.public_key
    with pytest.raises(SignatureError):
        checker.verify(envelope.b64e(forged), digest)


@pytest.mark.parametrize("flip", [1, 40, 64, 70])
def test_any_flipped_byte_fails(backend: sui.Ed25519Backend, flip: int) -> None:
    digest = envelope.body_hash(b"answer")
    raw = bytearray(envelope.b64d(sui.SuiKeyPair.from_seed(bytes(32)).sign_hash(digest), what="s"))
    raw[flip] ^= 0x01
    with pytest.raises(SignatureError):
        sui.SignatureChecker(backend=backend).verify(envelope.b64e(bytes(raw)), digest)


P = 2**255 - 19
Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022


@pytest.mark.parametrize("y", [0, 1, P - 1, Y8, P - Y8, P, P + 1])
@pytest.mark.parametrize("sign", [0, 1])
def test_small_order_keys_fail(backend: sui.Ed25519Backend, y: int, sign: int) -> None:
    # R = identity, S = 0: with the identity as public key this "verifies" over any message in OpenSSL.
    key = (y | sign << 255).to_bytes(32, "little")
    identity = bytes([1]) + bytes(31)
    raw = b"\x00" + identity + bytes(32) + key
    with pytest.raises(SignatureError):
        sui.SignatureChecker(backend=backend).verify(envelope.b64e(raw), envelope.body_hash(b"x"))


def test_default_backend_prefers_pynacl_when_installed() -> None:
    try:
        import nacl.bindings  # noqa: F401
    except ImportError:
        assert sui.ED25519_BACKEND == "cryptography"
    else:
        assert sui.ED25519_BACKEND == "pynacl"
