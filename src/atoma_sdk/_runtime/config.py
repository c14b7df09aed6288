"""The settings one SDK instance runs with (resolved once, in the constructor)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .. import errors
from .._version import USER_AGENT
from ..types import UNSET, OptionalNullable
from ..utils.retries import DEFAULT_RETRY_CONFIG, RetryConfig
from .record import Record
from .redact import valid_header_text

__all__ = [
    "BEARER_AUTH_ENV",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_STREAM_IDLE_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "SERVERS",
    "SERVER_URL_ENV",
    "SDKConfig",
    "check_headers",
    "resolve_retries",
    "resolve_server_url",
    "resolve_timeout",
]

#: The servers the API is served from; ``server_idx`` picks one.
SERVERS = ["https://api.atoma.network"]
BEARER_AUTH_ENV = "ATOMASDK_BEARER_AUTH"
#: The base URL used when neither ``server_url=`` nor ``server_idx=`` is given (before ``SERVERS[0]``).
SERVER_URL_ENV = "ATOMASDK_SERVER_URL"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
#: Per attempt, for every phase other than connecting (httpx has no whole-request deadline).
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_STREAM_IDLE_TIMEOUT_S = 120.0

BearerAuth = str | Callable[[], str]


def resolve_server_url(server_url: str | None, server_idx: int | None) -> str:
    """The base URL, no trailing slash: ``server_url`` > ``SERVERS[server_idx]`` > ``$ATOMASDK_SERVER_URL``
    > ``SERVERS[0]``."""
    if server_url is not None:
        return server_url.rstrip("/")
    if server_idx is None:
        from_env = os.environ.get(SERVER_URL_ENV, "").strip()
        if from_env:
            return from_env.rstrip("/")
    idx = 0 if server_idx is None else server_idx
    if not 0 <= idx < len(SERVERS):
        raise errors.RequestValidationError(f"server_idx must be in [0, {len(SERVERS) - 1}]")
    return SERVERS[idx]


# RFC 9110 token characters (header names).
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_headers(headers: Mapping[str, str] | None, what: str) -> dict[str, str]:
    """User-supplied headers as a dict, refused with a typed error (never echoing a value) when one cannot
    be sent as it is: a name that is not an HTTP token, or a value with control or non-ASCII characters."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"{what} must be a mapping of header names to strings")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not set(name) <= _TOKEN:
            raise errors.HeaderValidationError(f"{what}: a header name is not a valid HTTP token")
        if not isinstance(value, str):
            raise errors.HeaderValidationError(f"{what}: the value of header {name!r} is not a str")
        if not valid_header_text(value):
            raise errors.HeaderValidationError(
                f"{what}: the value of header {name!r} has control or non-ASCII characters (value not shown)"
            )
        checked[name] = value
    return checked


def resolve_retries(
    max_retries: int | None, retry_config: OptionalNullable[RetryConfig]
) -> RetryConfig | None:
    """The retry policy from ``max_retries=`` (the default backoff, N retries) or ``retry_config=``."""
    if max_retries is None:
        return DEFAULT_RETRY_CONFIG if retry_config is UNSET else retry_config  # type: ignore[return-value]
    if retry_config is not UNSET:
        raise TypeError("pass max_retries= or retry_config=, not both")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise TypeError("max_retries must be an int")
    if max_retries < 0:
        raise errors.RequestValidationError("max_retries must be 0 or more")
    return DEFAULT_RETRY_CONFIG.replace(max_attempts=max_retries + 1)


def resolve_timeout(
    timeout: float | httpx.Timeout | None, timeout_ms: int | None
) -> tuple[int | None, httpx.Timeout | None]:
    """``(timeout_ms, per-phase timeout)`` from ``timeout=`` (seconds, or an ``httpx.Timeout``) or
    ``timeout_ms=``."""
    if timeout is None:
        if timeout_ms is not None and timeout_ms <= 0:
            raise errors.RequestValidationError("timeout_ms must be positive")
        return timeout_ms, None
    if timeout_ms is not None:
        raise TypeError("pass timeout= or timeout_ms=, not both")
    if isinstance(timeout, httpx.Timeout):
        return None, timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be seconds (int or float) or an httpx.Timeout")
    if not timeout > 0:
        raise errors.RequestValidationError("timeout must be positive")
    return max(1, round(timeout * 1000)), None


class SDKConfig(Record):
    """Resolved SDK settings. ``repr`` never shows the token."""

    __slots__ = (
        "bearer_auth",
        "debug_logger",
        "default_headers",
        "http_timeout",
        "lock_pool",
        "lock_pool_owner",
        "lock_prefetch",
        "response_limits",
        "retry_config",
        "server_url",
        "stream_deadline_s",
        "stream_idle_timeout_s",
        "timeout_ms",
        "user_agent",
        "verification",
    )
    server_url: str
    bearer_auth: BearerAuth | None
    #: None: retries off; otherwise the SDK-wide retry policy (per call ``retries=`` overrides it).
    retry_config: RetryConfig | None
    #: Per-attempt timeout given by the caller (None: finite defaults, or the user's client's own timeout).
    timeout_ms: int | None
    stream_idle_timeout_s: float
    debug_logger: logging.Logger | None
    user_agent: str
    #: Kept for the confidential layer (a ``VerificationPolicy``); the runtime does not read it.
    verification: Any
    #: Per-operation caps of response bodies (decoded bytes), by operation id; see ``_runtime.bounded``.
    response_limits: Mapping[str, int] | None
    #: Optional total deadline of one event stream, in seconds (None: only the idle timeout applies).
    stream_deadline_s: float | None
    #: Pre-acquire confidential node locks (``atoma_sdk.confidential.lockpool``); off by default.
    lock_prefetch: bool
    #: The instance's ``LockPool``, created by the confidential layer on first use; closed with the SDK.
    lock_pool: Any
    #: For a ``with_options`` copy: the runtime whose lock pool it shares (None: its own).
    lock_pool_owner: Any
    #: Headers sent with every request (``default_headers=``); a call's ``http_headers`` win.
    default_headers: Mapping[str, str] | None
    #: Per-phase limits given as ``timeout=httpx.Timeout(...)`` (used when no ``timeout_ms`` applies).
    http_timeout: httpx.Timeout | None

    def __init__(
        self,
        server_url: str,
        bearer_auth: BearerAuth | None = None,
        retry_config: RetryConfig | None = DEFAULT_RETRY_CONFIG,
        timeout_ms: int | None = None,
        stream_idle_timeout_s: float = DEFAULT_STREAM_IDLE_TIMEOUT_S,
        debug_logger: logging.Logger | None = None,
        user_agent: str = USER_AGENT,
        verification: Any = None,
        response_limits: Mapping[str, int] | None = None,
        stream_deadline_s: float | None = None,
        lock_prefetch: bool = False,
        lock_pool: Any = None,
        lock_pool_owner: Any = None,
        default_headers: Mapping[str, str] | None = None,
        http_timeout: httpx.Timeout | None = None,
    ) -> None:
        self.server_url = server_url
        self.bearer_auth = bearer_auth
        self.retry_config = retry_config
        self.timeout_ms = timeout_ms
        self.stream_idle_timeout_s = stream_idle_timeout_s
        self.debug_logger = debug_logger
        self.user_agent = user_agent
        self.verification = verification
        self.response_limits = response_limits
        self.stream_deadline_s = stream_deadline_s
        self.lock_prefetch = lock_prefetch
        self.lock_pool = lock_pool
        self.lock_pool_owner = lock_pool_owner
        self.default_headers = default_headers
        self.http_timeout = http_timeout

    @classmethod
    def build(
        cls,
        *,
        bearer_auth: BearerAuth | None = None,
        server_url: str | None = None,
        server_idx: int | None = None,
        retry_config: OptionalNullable[RetryConfig] = UNSET,
        timeout_ms: int | None = None,
        stream_idle_timeout_ms: int | None = None,
        debug_logger: logging.Logger | None = None,
        verification: Any = None,
        lock_prefetch: bool = False,
        default_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float | httpx.Timeout | None = None,
        response_limits: Mapping[str, int] | None = None,
        stream_deadline_ms: int | None = None,
    ) -> SDKConfig:
        """Resolve constructor arguments: env-var token, server choice, default retries and timeouts."""
        if bearer_auth is None:
            bearer_auth = os.environ.get(BEARER_AUTH_ENV) or None
        timeout_ms, http_timeout = resolve_timeout(timeout, timeout_ms)
        headers = check_headers(default_headers, "default_headers")
        if stream_idle_timeout_ms is not None and stream_idle_timeout_ms <= 0:
            raise errors.RequestValidationError("stream_idle_timeout_ms must be positive")
        if stream_deadline_ms is not None and stream_deadline_ms <= 0:
            raise errors.RequestValidationError("stream_deadline_ms must be positive")
        limits = dict(response_limits or {})
        if any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in limits.values()):
            raise errors.RequestValidationError("response_limits values must be positive byte counts")
        return cls(
            server_url=resolve_server_url(server_url, server_idx),
            bearer_auth=bearer_auth,
            retry_config=resolve_retries(max_retries, retry_config),
            timeout_ms=timeout_ms,
            http_timeout=http_timeout,
            default_headers=headers or None,
            stream_idle_timeout_s=(
                DEFAULT_STREAM_IDLE_TIMEOUT_S
                if stream_idle_timeout_ms is None
                else stream_idle_timeout_ms / 1000.0
            ),
            debug_logger=debug_logger,
            verification=verification,
            lock_prefetch=bool(lock_prefetch),
            response_limits=limits,
            stream_deadline_s=None if stream_deadline_ms is None else stream_deadline_ms / 1000.0,
        )

    def token(self) -> str | None:
        """The bearer token to send now (a callable token is called per request)."""
        value = self.bearer_auth() if callable(self.bearer_auth) else self.bearer_auth
        return value or None

    def __reduce__(self) -> tuple[Any, ...]:
        # A pickle (or copy.copy) would carry the bearer token: ``replace()`` copies in process.
        raise TypeError("SDKConfig holds the bearer token and is not picklable; copy it with replace()")

    def __repr__(self) -> str:
        auth = "<redacted>" if self.bearer_auth else "None"
        return (
            f"SDKConfig(server_url={self.server_url!r}, bearer_auth={auth}, "
            f"retry_config={self.retry_config!r}, timeout_ms={self.timeout_ms!r}, "
            f"stream_idle_timeout_s={self.stream_idle_timeout_s!r})"
        )


#: Connections per SDK-owned client (httpx's default maximum), all of them kept alive for reuse.
DEFAULT_MAX_CONNECTIONS = 100


def default_timeout() -> httpx.Timeout:
    """Timeouts of SDK-owned clients: 5 s to connect, 600 s for every other phase."""
    return httpx.Timeout(DEFAULT_TIMEOUT_S, connect=DEFAULT_CONNECT_TIMEOUT_S)


def default_limits() -> httpx.Limits:
    """Pool limits of SDK-owned clients: every connection may stay open for reuse.

    httpx keeps at most 20 idle connections by default (and httpcore 1.0 closes an idle one whenever the
    pool holds more than 20 connections at all), so concurrent use beyond 20 requests reconnected constantly.
    """
    most = DEFAULT_MAX_CONNECTIONS
    return httpx.Limits(max_connections=most, max_keepalive_connections=most)
