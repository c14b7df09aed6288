"""Sui signatures over response hashes (protocol.md §4.2).

A Sui serialized signature is standard base64 of ``flag || signature || public key``: Ed25519 (0x00,
64 + 32 bytes), secp256k1 (0x01, 64 + 33) or secp256r1 (0x02, 64 + 33). Nodes sign the 32 raw
``response_hash`` bytes: Ed25519 directly; ECDSA over SHA-256 of them (inferred from fastcrypto, kept in
:data:`ECDSA_PREHASH` alone). The signer's Sui address is ``0x`` + hex(BLAKE2b-256(flag || public key)).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import SignatureError
from . import sodium
from .envelope import b64d, b64e

#: ``atoma-sdk[fast]``: libsodium (PyNaCl's) verifies Ed25519 twice as fast as OpenSSL here, GIL held.
_SODIUM: Final = sodium.library()

Scheme = Literal["ed25519", "secp256k1", "secp256r1"]
Ed25519Backend = Literal["pynacl", "cryptography"]
#: The Ed25519 backend used by default: PyNaCl when installed (``atoma-sdk[fast]``), else cryptography.
#: Both reject small-order public keys (checked here for cryptography); libsodium also rejects small-order R.
ED25519_BACKEND: Final[Ed25519Backend] = "cryptography" if _SODIUM is None else "pynacl"
ALL_SCHEMES: Final[frozenset[str]] = frozenset({"ed25519", "secp256k1", "secp256r1"})

_FLAGS: Final[dict[str, int]] = {"ed25519": 0x00, "secp256k1": 0x01, "secp256r1": 0x02}
_SCHEMES: Final[dict[int, Scheme]] = {0x00: "ed25519", 0x01: "secp256k1", 0x02: "secp256r1"}
_KEY_LEN: Final[dict[str, int]] = {"ed25519": 32, "secp256k1": 33, "secp256r1": 33}
_CURVES: Final[dict[str, ec.EllipticCurve]] = {"secp256k1": ec.SECP256K1(), "secp256r1": ec.SECP256R1()}
_SIG_LEN: Final = 64
_P25519: Final = 2**255 - 19
_ORDER8_Y: Final = 2707385501144840649318225287225658788936804267575313519463743609750303402022
#: y of every Ed25519 point of small order (x's sign bit aside; non-canonical encodings y + p included).
#: Such a public key "verifies" a forged signature over any message with OpenSSL; libsodium refuses it.
_SMALL_ORDER_Y: Final = frozenset({0, 1, _P25519 - 1, _ORDER8_Y, _P25519 - _ORDER8_Y, _P25519, _P25519 + 1})
#: The hash ECDSA schemes apply to the 32-byte message before signing (fastcrypto's DefaultHash).
ECDSA_PREHASH: Final = hashes.SHA256

__all__ = [
    "ALL_SCHEMES",
    "ECDSA_PREHASH",
    "ED25519_BACKEND",
    "Scheme",
    "SignatureChecker",
    "SuiKeyPair",
    "SuiSigner",
    "address_of",
    "verify",
]


def address_of(scheme: str, public_key: bytes) -> str:
    """The Sui address of a public key: ``0x`` + hex(BLAKE2b-256(flag || public key))."""
    return "0x" + hashlib.blake2b(bytes([_FLAGS[scheme]]) + public_key, digest_size=32).hexdigest()


@dataclass(frozen=True, slots=True)
class SuiSigner:
    """Who signed: the scheme, the public key embedded in the signature, and its Sui address."""

    scheme: Scheme
    public_key: bytes

    @property
    def address(self) -> str:
        return address_of(self.scheme, self.public_key)


def _split(signature_b64: object) -> tuple[Scheme, bytes, bytes]:
    try:
        raw = b64d(signature_b64, what="signature")
    except Exception:
        raise SignatureError("signature is missing or not valid base64") from None
    scheme = _SCHEMES.get(raw[0]) if raw else None
    if scheme is None:
        raise SignatureError("signature uses an unknown Sui scheme")
    if len(raw) != 1 + _SIG_LEN + _KEY_LEN[scheme]:
        raise SignatureError(f"{scheme} signature has the wrong length")
    return scheme, raw[1 : 1 + _SIG_LEN], raw[1 + _SIG_LEN :]


def verify(signature_b64: object, message: bytes, *, schemes: frozenset[str] = ALL_SCHEMES) -> SuiSigner:
    """Check a Sui signature over ``message``; returns the signer or raises SignatureError."""
    return SignatureChecker(schemes).verify(signature_b64, message)


_Verify = Callable[[bytes, bytes], Any]  # (64-byte signature, message); raises if invalid


class SignatureChecker:
    """Checks Sui signatures one after another (e.g. every chunk of a stream, whose signer is fixed).

    The last signer's parsed public key is kept, so a stream parses its signer's key once.
    """

    __slots__ = ("_signer", "_verify", "backend", "schemes")

    def __init__(
        self, schemes: frozenset[str] = ALL_SCHEMES, *, backend: Ed25519Backend = ED25519_BACKEND
    ) -> None:
        if backend == "pynacl" and _SODIUM is None:
            raise ImportError("the pynacl Ed25519 backend needs PyNaCl (pip install 'atoma-sdk[fast]')")
        self.schemes = schemes
        self.backend = backend
        self._signer: SuiSigner | None = None
        self._verify: _Verify | None = None

    def verify(self, signature_b64: object, message: bytes) -> SuiSigner:
        """Check a Sui signature over ``message``; returns the signer or raises SignatureError."""
        scheme, sig, public_key = _split(signature_b64)
        if scheme not in self.schemes:
            raise SignatureError(f"{scheme} signatures are not allowed by the verification policy")
        signer, check = self._signer, self._verify
        try:
            if signer is None or check is None or signer.public_key != public_key or signer.scheme != scheme:
                signer, check = SuiSigner(scheme, public_key), self._load(scheme, public_key)
                self._signer, self._verify = signer, check
            check(sig, message)
        except (InvalidSignature, ValueError):
            raise SignatureError("signature does not verify over the response hash") from None
        return signer

    def _load(self, scheme: Scheme, public_key: bytes) -> _Verify:
        if scheme == "ed25519":
            if int.from_bytes(public_key, "little") & ((1 << 255) - 1) in _SMALL_ORDER_Y:
                raise ValueError("small-order Ed25519 public key")
            if self.backend == "pynacl":
                assert _SODIUM is not None
                verify = _SODIUM.verify

                def check_ed25519(sig: bytes, message: bytes) -> None:
                    if not verify(sig, message, public_key):
                        raise InvalidSignature

                return check_ed25519
            return ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[scheme], public_key)

        def check(sig: bytes, message: bytes) -> None:
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, message, ec.ECDSA(ECDSA_PREHASH()))

        return check


class SuiKeyPair:
    """A Sui signing key (used by the local node, and by tests that play a node)."""

    __slots__ = ("_key", "public_key", "scheme")

    def __init__(self, scheme: Scheme, key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self.scheme: Scheme = scheme
        self._key = key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            self.public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        else:
            self.public_key = key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    @classmethod
    def generate(cls, scheme: Scheme = "ed25519") -> SuiKeyPair:
        return cls.from_seed(os.urandom(32), scheme)

    @classmethod
    def from_seed(cls, seed: bytes, scheme: Scheme = "ed25519") -> SuiKeyPair:
        """Ed25519 from a 32-byte seed; ECDSA from the seed read as a scalar (reduced into range)."""
        if scheme == "ed25519":
            return cls(scheme, ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        curve = _CURVES[scheme]
        order = _ORDERS[scheme]
        value = int.from_bytes(hashlib.sha256(seed).digest(), "big") % (order - 1) + 1
        return cls(scheme, ec.derive_private_key(value, curve))

    @property
    def address(self) -> str:
        return address_of(self.scheme, self.public_key)

    def sign_hash(self, message: bytes) -> str:
        """The Sui serialized signature (base64) over ``message`` (the 32 response-hash bytes)."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            sig = self._key.sign(message)
        else:
            r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(ECDSA_PREHASH())))
            order = _ORDERS[self.scheme]
            s = min(s, order - s)  # low-s form, as Sui's verifiers require
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return b64e(bytes([_FLAGS[self.scheme]]) + sig + self.public_key)

    def __repr__(self) -> str:
        return f"SuiKeyPair(scheme={self.scheme!r}, address={self.address!r})"


_ORDERS: Final[dict[str, int]] = {
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
