"""libsodium (the copy PyNaCl ships) called with the GIL held, for the two short operations of every call.

PyNaCl's cffi bindings release the GIL around each call. For a 20-60 µs X25519 or Ed25519 call that is a loss
whenever other threads are busy: the calling thread waits up to the interpreter's switch interval (5 ms by
default) to get the GIL back. Eight threads making confidential calls at once lost milliseconds per call this
way. ``ctypes.PyDLL`` calls the same library functions without releasing the GIL (and a little faster).

Loaded on first use; :func:`library` is None without PyNaCl (``atoma-sdk[fast]``) or when its library does
not export these functions, and callers then use cryptography.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Final

__all__ = ["Sodium", "library"]

_KEY_LEN: Final = 32
_SIG_LEN: Final = 64
_guard = threading.Lock()
_loaded: list[Sodium | None] = []


class Sodium:
    """The libsodium functions the SDK calls on every confidential call."""

    __slots__ = ("_keypair", "_scalarmult", "_verify")

    def __init__(self, lib: ctypes.PyDLL) -> None:
        buffer, size = ctypes.c_char_p, ctypes.c_ulonglong
        self._keypair = _function(lib, "crypto_box_keypair", [buffer, buffer])
        self._scalarmult = _function(lib, "crypto_scalarmult", [buffer, buffer, buffer])
        self._verify = _function(lib, "crypto_sign_verify_detached", [buffer, buffer, size, buffer])

    def key_and_secret(self, peer_public: bytes) -> tuple[bytes, bytes] | None:
        """``(public key, secret shared with peer_public)`` of a fresh X25519 key; None: a low-order peer."""
        if len(peer_public) != _KEY_LEN:
            return None
        public, secret, shared = (ctypes.create_string_buffer(_KEY_LEN) for _ in range(3))
        self._keypair(public, secret)
        try:
            if self._scalarmult(shared, secret, peer_public) != 0:  # an all-zero secret: a low-order key
                return None
            return public.raw, shared.raw
        finally:
            ctypes.memset(secret, 0, _KEY_LEN)

    def verify(self, signature: bytes, message: bytes, public_key: bytes) -> bool:
        """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
        if len(signature) != _SIG_LEN or len(public_key) != _KEY_LEN:
            return False
        return self._verify(signature, message, len(message), public_key) == 0  # type: ignore[no-any-return]


def _function(lib: ctypes.PyDLL, name: str, argtypes: list[type[ctypes._SimpleCData[Any]]]) -> Any:
    function = getattr(lib, name)
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


def library() -> Sodium | None:
    """The GIL-holding libsodium functions, or None (no PyNaCl, or a build that hides the symbols)."""
    if not _loaded:
        with _guard:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def _load() -> Sodium | None:
    try:
        import nacl._sodium  # type: ignore[import-not-found]  # PyNaCl's compiled libsodium
    except ImportError:
        return None
    try:
        lib = ctypes.PyDLL(nacl._sodium.__file__)
        if lib.sodium_init() < 0:  # idempotent: PyNaCl's import ran it already
            return None
        return Sodium(lib)
    except (OSError, AttributeError):  # pragma: no cover - a PyNaCl build without exported symbols
        return None
