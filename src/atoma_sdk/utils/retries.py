"""Retry configuration (Speakeasy-compatible; every duration is in milliseconds)."""

from __future__ import annotations

from .._runtime.record import FrozenRecord, set_field

__all__ = ["DEFAULT_RETRY_CONFIG", "BackoffStrategy", "RetryConfig"]


class BackoffStrategy(FrozenRecord):
    """Exponential backoff: ``initial_interval * exponent ** n`` (capped at ``max_interval``), with jitter.

    No retry starts once ``max_elapsed_time`` would be exceeded (counted from the first attempt).
    """

    __slots__ = ("exponent", "initial_interval", "max_elapsed_time", "max_interval")
    initial_interval: int
    max_interval: int
    exponent: float
    max_elapsed_time: int

    def __init__(
        self, initial_interval: int, max_interval: int, exponent: float, max_elapsed_time: int
    ) -> None:
        set_field(self, "initial_interval", initial_interval)
        set_field(self, "max_interval", max_interval)
        set_field(self, "exponent", exponent)
        set_field(self, "max_elapsed_time", max_elapsed_time)


class RetryConfig(FrozenRecord):
    """When and how to retry. ``strategy`` is ``"backoff"`` (retry) or ``"none"`` (any other value: never).

    ``backoff`` None means the default backoff (500 ms doubling up to 8 s, within 30 s).

    ``retry_connection_errors`` also retries transport failures and timeouts; ``max_attempts`` (counting the
    first attempt) bounds the number of tries on top of ``backoff.max_elapsed_time``.
    """

    __slots__ = ("backoff", "max_attempts", "retry_connection_errors", "strategy")
    strategy: str
    backoff: BackoffStrategy | None
    retry_connection_errors: bool
    max_attempts: int | None

    def __init__(
        self,
        strategy: str,
        backoff: BackoffStrategy | None = None,
        retry_connection_errors: bool = True,
        max_attempts: int | None = None,
    ) -> None:
        set_field(self, "strategy", strategy)
        set_field(self, "backoff", backoff)
        set_field(self, "retry_connection_errors", retry_connection_errors)
        set_field(self, "max_attempts", max_attempts)

    @property
    def enabled(self) -> bool:
        """Whether this configuration retries at all."""
        return self.strategy == "backoff" and (self.max_attempts is None or self.max_attempts > 1)


#: Used when neither the SDK nor the call says otherwise: 3 attempts within about 30 seconds.
DEFAULT_RETRY_CONFIG = RetryConfig(
    "backoff",
    BackoffStrategy(initial_interval=500, max_interval=8_000, exponent=2.0, max_elapsed_time=30_000),
    retry_connection_errors=True,
    max_attempts=3,
)
