"""Whole-attempt deadlines: ``timeout_ms`` bounds an attempt, not each socket read.

httpx's timeouts are per phase and per read, so a server dripping one byte every half second never trips
them. A deadline is set in a context variable for the duration of an attempt (or of a confidential unit:
nested scopes keep the earliest deadline). SDK-owned clients enforce it at every socket operation through
``netdeadline``'s backends (each connect, read and write waits at most the time left, and none starts after
it; they subclass httpcore's, which ``import atoma_sdk`` does not load: httpx imports httpcore only when a
transport is made); body readers also check it between chunks, which is all a client the user passes in gets
(see docs/hostile-server.md).
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

__all__ = ["remaining", "scope"]

_DEADLINE: ContextVar[float | None] = ContextVar("atoma_sdk_deadline", default=None)


class scope:  # lower case: used like the function it was, ``with deadline.scope(seconds):``
    """Run the block under a deadline ``seconds`` from now (None: no new deadline); an outer earlier
    deadline stays in force. (A class, not a generator: entered on every attempt, it must cost little.)"""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        seconds = self._seconds
        if seconds is None:
            return
        when = time.monotonic() + seconds
        outer = _DEADLINE.get()
        self._token = _DEADLINE.set(when if outer is None else min(outer, when))

    def __exit__(self, *exc_info: object) -> None:
        token = self._token
        if token is not None:
            self._token = None
            _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (may be negative), or None without one."""
    when = _DEADLINE.get()
    return None if when is None else when - time.monotonic()


def _clamp(timeout: float | None, exc: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise exc("deadline exceeded")
    return left if timeout is None else min(timeout, left)
