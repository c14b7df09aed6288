"""The confidential envelope, as Atoma nodes speak it (protocol.md §2-§5).

X25519 (fresh client key per request) -> HKDF-SHA256 (salt = the 16-byte request salt, empty info,
32 bytes) -> AES-256-GCM (12-byte nonce, tag appended, no associated data). Body hashes are
BLAKE2b-256 over exactly the encrypted bytes. Everything on the wire is standard padded base64.

Decoding is strict and errors name only *what* failed, never a value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import sys
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import IntegrityError, KeyMismatchError
from . import sodium

KEY_LEN: Final = 32
SALT_LEN: Final = 16
NONCE_LEN: Final = 12
HASH_LEN: Final = 32
TAG_LEN: Final = 16

__all__ = [
    "HASH_LEN",
    "KEY_LEN",
    "NONCE_LEN",
    "SALT_LEN",
    "TAG_LEN",
    "ClientSession",
    "NodeSession",
    "RequestRejected",
    "b64d",
    "b64e",
    "body_hash",
    "derive_key",
    "fresh_key_and_secret",
    "open_",
    "public_key_bytes",
    "seal",
]


def b64e(data: bytes) -> str:
    """Standard, padded base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: object, *, length: int | None = None, what: str) -> bytes:
    """Decode canonical standard base64, optionally of an exact decoded ``length``."""
    raw = _canonical(text) if isinstance(text, str) else None
    if raw is None:
        raw = _b64d_checked(text, what)  # the failure (or the 3.10 path): the same checks, named
    if length is not None and len(raw) != length:
        raise IntegrityError(f"{what} has {len(raw)} bytes, expected {length}")
    return raw


#: Last data characters whose unused low bits are zero, before "==" (4 bits) and before "=" (2 bits).
_ZERO_LOW4 = frozenset("AQgw")
_ZERO_LOW2 = frozenset("AEIMQUYcgkosw048")


def _canonical(text: str) -> bytes | None:
    """The bytes of canonical padded base64 ``text`` in one C call (3.11+ strict mode), else None.

    Strict mode refuses characters outside the alphabet, missing, leading or excess padding; the unused
    bits before the padding must be zero too (``QR==`` decodes like ``QQ==`` but is not canonical).
    """
    if not _STRICT or len(text) % 4:  # strict mode lets "QUJD=" through
        return None
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)  # type: ignore[call-arg,unused-ignore]
    except (binascii.Error, ValueError):
        return None
    if text[-1:] != "=":
        return raw
    if text[-2] == "=":
        return raw if text[-3] in _ZERO_LOW4 else None
    return raw if text[-2] in _ZERO_LOW2 else None


_STRICT: Final = sys.version_info >= (3, 11)


def _b64d_checked(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise IntegrityError(f"{what} is missing or not a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise IntegrityError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise IntegrityError(f"{what} is not canonical padded base64")
    return raw


#: hashlib releases the GIL to hash 2048 bytes or more, and getting it back can take the interpreter's switch
#: interval (5 ms) while other threads are busy. Bodies up to this size are hashed in smaller pieces with the
#: GIL held (under 100 µs); larger ones release it, which then pays.
HASH_WITH_GIL_UP_TO: Final = 64 * 1024
_GIL_FREE_PIECE: Final = 2047


def body_hash(data: bytes) -> bytes:
    """BLAKE2b-256 of ``data`` (unkeyed, no personalisation)."""
    if len(data) <= _GIL_FREE_PIECE or len(data) > HASH_WITH_GIL_UP_TO:
        return hashlib.blake2b(data, digest_size=HASH_LEN).digest()
    view = memoryview(data)
    digest = hashlib.blake2b(digest_size=HASH_LEN)
    for start in range(0, len(view), _GIL_FREE_PIECE):
        digest.update(view[start : start + _GIL_FREE_PIECE])
    return digest.digest()


def public_key_bytes(private: X25519PrivateKey) -> bytes:
    """The raw 32-byte X25519 public key of ``private``."""
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def derive_key(private: X25519PrivateKey, peer_public: bytes, salt: bytes) -> bytes:
    """The 32-byte AES key both sides derive: HKDF-SHA256(salt, X25519(private, peer), info="")."""
    return _hkdf(_exchange(private, peer_public), salt)


def _exchange(private: X25519PrivateKey, peer_public: bytes) -> bytes:
    """X25519(private, peer_public) with cryptography; a low-order peer key is a KeyMismatchError."""
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        raise _low_order() from None


def _low_order() -> KeyMismatchError:
    return KeyMismatchError("the peer's X25519 public key is invalid (low order)")


def _hkdf(shared: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=salt, info=b"").derive(shared)


def fresh_key_and_secret(peer_public: bytes) -> tuple[bytes, bytes]:
    """``(public key, shared secret with peer_public)`` of a fresh X25519 key that is then forgotten.

    libsodium (PyNaCl's, called with the GIL held) when installed, else cryptography; both refuse a low-order
    peer key (an all-zero secret) with :class:`~atoma_sdk.errors.KeyMismatchError`.
    """
    lib = sodium.library()
    if lib is None:
        private = X25519PrivateKey.generate()
        return public_key_bytes(private), _exchange(private, peer_public)
    pair = lib.key_and_secret(peer_public)
    if pair is None:
        raise _low_order()
    return pair


def seal(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """AES-256-GCM encrypt, no associated data; returns ciphertext || tag."""
    return AESGCM(key).encrypt(nonce, plaintext, None)


def open_(key: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    """AES-256-GCM decrypt; a bad tag, key or nonce raises IntegrityError."""
    return _open(AESGCM(key), nonce, ciphertext)


def _open(aead: AESGCM, nonce: bytes, ciphertext: bytes) -> bytes:
    if len(ciphertext) < TAG_LEN:
        raise IntegrityError("ciphertext is shorter than its authentication tag")
    try:
        return aead.decrypt(nonce, ciphertext, None)
    except InvalidTag:
        raise IntegrityError("ciphertext failed authentication (tampered, or the wrong key)") from None


class ClientSession:
    """One confidential request's keys, on the client: encrypts the request and decrypts its answers."""

    __slots__ = ("_aead", "client_public_key", "node_public_key", "request_hash", "salt")

    def __init__(self, node_public_key: bytes, private: X25519PrivateKey | None, salt: bytes) -> None:
        """``private``: the client's X25519 key (None: a fresh one, made with PyNaCl when installed)."""
        self.node_public_key = node_public_key
        self.salt = salt
        if private is None:
            self.client_public_key, shared = fresh_key_and_secret(node_public_key)
            self._aead = AESGCM(_hkdf(shared, salt))
        else:
            self.client_public_key = public_key_bytes(private)
            self._aead = AESGCM(derive_key(private, node_public_key, salt))
        self.request_hash = b""

    @classmethod
    def create(
        cls,
        node_public_key_b64: str,
        *,
        private_key: X25519PrivateKey | None = None,
        salt: bytes | None = None,
    ) -> ClientSession:
        """A fresh session for the node key from ``/v1/nodes/lock`` (key and salt may be fixed for tests)."""
        node_public = b64d(node_public_key_b64, length=KEY_LEN, what="node public key")
        return cls(node_public, private_key, salt if salt is not None else os.urandom(SALT_LEN))

    def encrypt_request(self, plaintext: bytes, *, nonce: bytes | None = None) -> dict[str, str]:
        """The wire fields of ``ConfidentialComputeRequest`` that carry the encrypted ``plaintext``."""
        nonce = nonce if nonce is not None else os.urandom(NONCE_LEN)
        self.request_hash = body_hash(plaintext)
        return {
            "ciphertext": b64e(self._aead.encrypt(nonce, plaintext, None)),
            "client_dh_public_key": b64e(self.client_public_key),
            "node_dh_public_key": b64e(self.node_public_key),
            "nonce": b64e(nonce),
            "plaintext_body_hash": b64e(self.request_hash),
            "salt": b64e(self.salt),
        }

    def decrypt(self, ciphertext_b64: object, nonce_b64: object) -> bytes:
        """Decrypt one response or chunk with its own nonce."""
        nonce = b64d(nonce_b64, length=NONCE_LEN, what="response nonce")
        return _open(self._aead, nonce, b64d(ciphertext_b64, what="response ciphertext"))

    def __repr__(self) -> str:
        return "ClientSession(<keys redacted>)"


class RequestRejected(Exception):
    """Node side: a confidential request that cannot be served; ``kind`` says why.

    Kinds: ``malformed`` (bad base64 or lengths), ``key-mismatch`` (not the node's current key),
    ``decrypt`` (authentication failed), ``hash-mismatch`` (plaintext_body_hash differs).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class NodeSession:
    """One confidential request's keys, on the node: decrypts the request, encrypts the answer."""

    __slots__ = ("_aead", "request_hash")

    def __init__(self, aead: AESGCM, request_hash: bytes) -> None:
        self._aead = aead
        self.request_hash = request_hash

    @classmethod
    def from_request(
        cls, node_private: X25519PrivateKey, request: Mapping[str, Any]
    ) -> tuple[NodeSession, bytes]:
        """Check and decrypt a ``ConfidentialComputeRequest``; returns the session and the plaintext."""
        try:
            salt = b64d(request.get("salt"), length=SALT_LEN, what="salt")
            nonce = b64d(request.get("nonce"), length=NONCE_LEN, what="nonce")
            client_public = b64d(request.get("client_dh_public_key"), length=KEY_LEN, what="client key")
            node_public = b64d(request.get("node_dh_public_key"), length=KEY_LEN, what="node key")
            expected_hash = b64d(request.get("plaintext_body_hash"), length=HASH_LEN, what="body hash")
            ciphertext = b64d(request.get("ciphertext"), what="ciphertext")
        except IntegrityError as exc:
            raise RequestRejected("malformed", str(exc)) from None
        if not hmac.compare_digest(node_public, public_key_bytes(node_private)):
            raise RequestRejected("key-mismatch", "node X25519 public key does not match")
        try:
            aead = AESGCM(derive_key(node_private, client_public, salt))
            plaintext = _open(aead, nonce, ciphertext)
        except (IntegrityError, KeyMismatchError) as exc:
            raise RequestRejected("decrypt", str(exc)) from None
        actual_hash = body_hash(plaintext)
        if not hmac.compare_digest(actual_hash, expected_hash):
            raise RequestRejected("hash-mismatch", "plaintext body hash does not match")
        return cls(aead, actual_hash), plaintext

    def encrypt(self, plaintext: bytes, nonce: bytes | None = None) -> tuple[str, str]:
        """Encrypt an answer (or chunk) back to the client; returns (ciphertext_b64, nonce_b64)."""
        nonce = nonce if nonce is not None else os.urandom(NONCE_LEN)
        return b64e(self._aead.encrypt(nonce, plaintext, None)), b64e(nonce)

    def __repr__(self) -> str:
        return "NodeSession(<keys redacted>)"
