"""libsodium (the copy PyNaCl ships) for the two short operations of every call, with the GIL held.

PyNaCl's cffi bindings release the GIL around each call. For a 20-60 µs X25519 or Ed25519 call that is a loss
whenever other threads are busy: the calling thread waits up to the interpreter's switch interval (5 ms by
default) to get the GIL back. Eight threads making confidential calls at once lost milliseconds per call this
way. ``ctypes.PyDLL`` calls the same library functions without releasing the GIL (and a little faster).

Loaded on first use. :func:`library` gives :class:`Sodium` (GIL held); where PyNaCl's library does not export
its functions (a build that hides them), :class:`PyNaClBindings` (PyNaCl's own calls); without PyNaCl
(``atoma-sdk[fast]``) None, and callers use cryptography.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any, Final

__all__ = ["PyNaClBindings", "Sodium", "library"]

_KEY_LEN: Final = 32
_SIG_LEN: Final = 64


class Sodium:
    """libsodium's functions through ``ctypes.PyDLL``: the GIL stays held."""

    __slots__ = ("_keypair", "_scalarmult", "_verify")
    holds_gil: Final = True

    def __init__(self, lib: ctypes.PyDLL) -> None:
        buffer, size = ctypes.c_char_p, ctypes.c_ulonglong
        self._keypair = _function(lib, "crypto_box_keypair", [buffer, buffer])
        self._scalarmult = _function(lib, "crypto_scalarmult", [buffer, buffer, buffer])
        self._verify = _function(lib, "crypto_sign_verify_detached", [buffer, buffer, size, buffer])

    def key_and_secret(self, peer_public: bytes) -> tuple[bytes, bytes] | None:
        """``(public key, secret shared with peer_public)`` of a fresh X25519 key; None: a bad peer key."""
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


class PyNaClBindings:
    """The same operations through PyNaCl's own bindings (which release the GIL around each call)."""

    __slots__ = ()
    holds_gil: Final = False

    def key_and_secret(self, peer_public: bytes) -> tuple[bytes, bytes] | None:
        """As :meth:`Sodium.key_and_secret`."""
        from nacl.bindings import crypto_box_keypair, crypto_scalarmult
        from nacl.exceptions import RuntimeError as SodiumError

        if len(peer_public) != _KEY_LEN:
            return None
        public, secret = crypto_box_keypair()
        try:
            return public, crypto_scalarmult(secret, peer_public)
        except SodiumError:  # an all-zero secret: a low-order key
            return None

    def verify(self, signature: bytes, message: bytes, public_key: bytes) -> bool:
        """As :meth:`Sodium.verify`."""
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError

        if len(signature) != _SIG_LEN or len(public_key) != _KEY_LEN:
            return False
        try:
            crypto_sign_open(signature + message, public_key)
        except (BadSignatureError, ValueError):
            return False
        return True


def _function(lib: ctypes.PyDLL, name: str, argtypes: list[type[ctypes._SimpleCData[Any]]]) -> Any:
    function = getattr(lib, name)
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


@functools.lru_cache(maxsize=1)
def library() -> Sodium | PyNaClBindings | None:
    """PyNaCl's libsodium: called with the GIL held where its symbols are exported; None without PyNaCl."""
    try:
        import nacl._sodium  # type: ignore[import-not-found]  # PyNaCl's compiled libsodium
        import nacl.bindings  # initialises libsodium
    except ImportError:
        return None
    try:
        lib = ctypes.PyDLL(nacl._sodium.__file__)
        if lib.sodium_init() < 0:  # pragma: no cover - idempotent: PyNaCl's import ran it already
            return PyNaClBindings()
        return Sodium(lib)
    except (OSError, AttributeError):  # pragma: no cover - a PyNaCl build that hides its library's symbols
        return PyNaClBindings()
