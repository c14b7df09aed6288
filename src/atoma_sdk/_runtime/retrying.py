"""Every retry decision, in one object shared by the sync loop, the async loop and the confidential layer.

A :class:`RetryState` lives for one logical call. The loops ask it, after each failed attempt, how long to
wait before the next one (``None``: give up and surface the failure). Time and randomness are injected.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx

from .. import errors
from ..utils.retries import DEFAULT_RETRY_CONFIG, BackoffStrategy, RetryConfig
from .operation import RetryRule

__all__ = ["MAX_RETRY_AFTER_S", "RETRY_STATUSES", "RetryState", "parse_retry_after"]

#: Statuses retried under :attr:`RetryRule.DEFAULT` (plus every 5XX).
RETRY_STATUSES = frozenset({408, 409, 429})
#: Statuses retried under :attr:`RetryRule.WHOLE_UNIT` (plus every 5XX).
WHOLE_UNIT_RETRY_STATUSES = RETRY_STATUSES | {423, 425}
#: A server-requested delay (``Retry-After`` / ``retry-after-ms``) is honoured up to this many seconds.
MAX_RETRY_AFTER_S = 60.0

_DEFAULT_BACKOFF = DEFAULT_RETRY_CONFIG.backoff or BackoffStrategy(500, 8_000, 2.0, 30_000)
# Transport errors that no retry can fix (bad URL scheme, a request httpx refused to send).
_NEVER_RETRIED: tuple[type[Exception], ...] = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, else ``Retry-After`` seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryState:
    """Retry decisions for one logical call: which failures retry, and after how long.

    ``attempt`` is the number of the attempt in flight (1-based); a ``delay_for_*`` call that grants a retry
    advances it. ``clock`` is monotonic seconds, ``wall_clock`` epoch seconds (for HTTP-date headers),
    ``rng`` returns floats in [0, 1) for jitter; ``sleep`` / ``async_sleep`` are what the loops wait with.
    """

    def __init__(
        self,
        config: RetryConfig | None,
        rule: RetryRule = RetryRule.DEFAULT,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.rule = rule
        self.enabled = config is not None and config.enabled
        self.backoff = (config.backoff if config is not None else None) or _DEFAULT_BACKOFF
        self.attempt = 1
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng
        self.sleep = sleep
        self.async_sleep = async_sleep or _anyio_sleep
        self._started = clock()

    # -- decisions -------------------------------------------------------------------------------------------

    def delay_for_response(self, response: httpx.Response) -> float | None:
        """Delay before retrying after this error response, or None."""
        return self.delay_for_status(response.status_code, response.headers)

    def delay_for_status(self, status_code: int, headers: Mapping[str, str]) -> float | None:
        """Delay before retrying after an answer with this status and these headers, or None."""
        if self.rule is RetryRule.NOT_SENT_ONLY or not self._status_retryable(status_code):
            return None
        requested = parse_retry_after(headers, now=self._wall_clock())
        if requested is not None:
            return self._grant(min(requested, MAX_RETRY_AFTER_S))
        return self._grant(self._backoff_delay())

    def delay_for_exception(self, exc: BaseException, *, sent: bool | None = None) -> float | None:
        """Delay before retrying after ``exc`` (an httpx error or one of our typed errors), or None.

        ``sent=False`` asserts the request never reached the server; ``None`` infers it from the error type.
        """
        if isinstance(exc, errors.NodeRejectedError):
            return None  # deterministic: a retry would only spend another lock
        if isinstance(exc, errors.APIError):
            if exc.status_code and sent is not False:
                return self.delay_for_status(exc.status_code, exc.headers)
            return None
        transport = _transport_cause(exc)
        if transport is None or isinstance(transport, _NEVER_RETRIED):
            return None
        if self.config is not None and not self.config.retry_connection_errors:
            return None
        not_sent = (not sent) if sent is not None else isinstance(
            transport, httpx.ConnectError | httpx.ConnectTimeout
        )
        if self.rule is RetryRule.NOT_SENT_ONLY and not not_sent:
            return None
        return self._grant(self._backoff_delay())

    # -- internals -------------------------------------------------------------------------------------------

    def _status_retryable(self, status_code: int) -> bool:
        statuses = WHOLE_UNIT_RETRY_STATUSES if self.rule is RetryRule.WHOLE_UNIT else RETRY_STATUSES
        return status_code in statuses or 500 <= status_code <= 599

    def _backoff_delay(self) -> float:
        b = self.backoff
        base = min(b.max_interval, b.initial_interval * b.exponent ** (self.attempt - 1)) / 1000.0
        # "Equal jitter": at least half the exponential delay, at most all of it.
        return base / 2.0 + self._rng() * base / 2.0

    def _grant(self, delay: float) -> float | None:
        if not self.enabled or self.config is None:
            return None
        if self.config.max_attempts is not None and self.attempt >= self.config.max_attempts:
            return None
        elapsed = self._clock() - self._started
        if elapsed + delay > self.backoff.max_elapsed_time / 1000.0:
            return None
        self.attempt += 1
        return delay


async def _anyio_sleep(delay: float) -> None:
    import anyio

    await anyio.sleep(delay)


def _transport_cause(exc: BaseException) -> httpx.TransportError | None:
    """The httpx transport error behind ``exc`` (itself, or the cause of an APIConnectionError)."""
    if isinstance(exc, httpx.TransportError):
        return exc
    if isinstance(exc, errors.APIConnectionError) and isinstance(exc.__cause__, httpx.TransportError):
        return exc.__cause__
    return None
