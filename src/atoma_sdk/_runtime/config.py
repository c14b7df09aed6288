"""The settings one SDK instance runs with (resolved once, in the constructor)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import errors
from .._version import USER_AGENT
from ..types import UNSET, OptionalNullable
from ..utils.retries import DEFAULT_RETRY_CONFIG, RetryConfig

__all__ = [
    "BEARER_AUTH_ENV",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_STREAM_IDLE_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "SERVERS",
    "SDKConfig",
    "resolve_server_url",
]

#: The servers the API is served from; ``server_idx`` picks one.
SERVERS = ["https://api.atoma.network"]
BEARER_AUTH_ENV = "ATOMASDK_BEARER_AUTH"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
#: Per attempt, for every phase other than connecting (httpx has no whole-request deadline).
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_STREAM_IDLE_TIMEOUT_S = 120.0

BearerAuth = str | Callable[[], str]


def resolve_server_url(server_url: str | None, server_idx: int | None) -> str:
    """The base URL: ``server_url`` if given, else ``SERVERS[server_idx or 0]``; no trailing slash."""
    if server_url is not None:
        return server_url.rstrip("/")
    idx = 0 if server_idx is None else server_idx
    if not 0 <= idx < len(SERVERS):
        raise errors.RequestValidationError(f"server_idx must be in [0, {len(SERVERS) - 1}]")
    return SERVERS[idx]


@dataclass(repr=False)
class SDKConfig:
    """Resolved SDK settings. ``repr`` never shows the token."""

    server_url: str
    bearer_auth: BearerAuth | None = None
    #: None: retries off; otherwise the SDK-wide retry policy (per call ``retries=`` overrides it).
    retry_config: RetryConfig | None = DEFAULT_RETRY_CONFIG
    #: Per-attempt timeout given by the caller (None: finite defaults, or the user's client's own timeout).
    timeout_ms: int | None = None
    stream_idle_timeout_s: float = DEFAULT_STREAM_IDLE_TIMEOUT_S
    debug_logger: logging.Logger | None = None
    user_agent: str = USER_AGENT
    #: Kept for the confidential layer (a ``VerificationPolicy``); the runtime does not read it.
    verification: Any = None
    #: Per-operation caps of response bodies (decoded bytes), by operation id; see ``_runtime.bounded``.
    response_limits: Mapping[str, int] | None = None
    #: Optional total deadline of one event stream, in seconds (None: only the idle timeout applies).
    stream_deadline_s: float | None = None
    #: Pre-acquire confidential node locks (``atoma_sdk.confidential.lockpool``); off by default.
    lock_prefetch: bool = False
    #: The instance's ``LockPool``, created by the confidential layer on first use; closed with the SDK.
    lock_pool: Any = None

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
        response_limits: Mapping[str, int] | None = None,
        stream_deadline_ms: int | None = None,
    ) -> SDKConfig:
        """Resolve constructor arguments: env-var token, server choice, default retries and timeouts."""
        if bearer_auth is None:
            bearer_auth = os.environ.get(BEARER_AUTH_ENV) or None
        if timeout_ms is not None and timeout_ms <= 0:
            raise errors.RequestValidationError("timeout_ms must be positive")
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
            retry_config=DEFAULT_RETRY_CONFIG if retry_config is UNSET else retry_config,  # type: ignore[arg-type]
            timeout_ms=timeout_ms,
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

    def __repr__(self) -> str:
        auth = "<redacted>" if self.bearer_auth else "None"
        return (
            f"SDKConfig(server_url={self.server_url!r}, bearer_auth={auth}, "
            f"retry_config={self.retry_config!r}, timeout_ms={self.timeout_ms!r}, "
            f"stream_idle_timeout_s={self.stream_idle_timeout_s!r})"
        )
