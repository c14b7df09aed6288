"""Sui signatures over response hashes (protocol.md §4.2).

A Sui serialized signature is standard base64 of ``flag || signature || public key``: Ed25519 (0x00,
64 + 32 bytes), secp256k1 (0x01, 64 + 33) or secp256r1 (0x02, 64 + 33). Nodes sign the 32 raw
``response_hash`` bytes: Ed25519 directly; ECDSA over SHA-256 of them (inferred from fastcrypto, kept in
:data:`ECDSA_PREHASH` alone). The signer's Sui address is ``0x`` + hex(BLAKE2b-256(flag || public key)).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import SignatureError
from .envelope import b64d, b64e

Scheme = Literal["ed25519", "secp256k1", "secp256r1"]
ALL_SCHEMES: Final[frozenset[str]] = frozenset({"ed25519", "secp256k1", "secp256r1"})

_FLAGS: Final[dict[str, int]] = {"ed25519": 0x00, "secp256k1": 0x01, "secp256r1": 0x02}
_SCHEMES: Final[dict[int, Scheme]] = {0x00: "ed25519", 0x01: "secp256k1", 0x02: "secp256r1"}
_KEY_LEN: Final[dict[str, int]] = {"ed25519": 32, "secp256k1": 33, "secp256r1": 33}
_CURVES: Final[dict[str, ec.EllipticCurve]] = {"secp256k1": ec.SECP256K1(), "secp256r1": ec.SECP256R1()}
_SIG_LEN: Final = 64
#: The hash ECDSA schemes apply to the 32-byte message before signing (fastcrypto's DefaultHash).
ECDSA_PREHASH: Final = hashes.SHA256

__all__ = ["ALL_SCHEMES", "ECDSA_PREHASH", "Scheme", "SuiKeyPair", "SuiSigner", "address_of", "verify"]


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
    scheme, sig, public_key = _split(signature_b64)
    if scheme not in schemes:
        raise SignatureError(f"{scheme} signatures are not allowed by the verification policy")
    try:
        if scheme == "ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(sig, message)
        else:
            key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[scheme], public_key)
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, message, ec.ECDSA(ECDSA_PREHASH()))
    except (InvalidSignature, ValueError):
        raise SignatureError("signature does not verify over the response hash") from None
    return SuiSigner(scheme, public_key)


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
