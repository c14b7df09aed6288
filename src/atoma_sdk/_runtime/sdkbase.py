"""The base of the generated ``AtomaSDK``: settings, runtime, client lifecycle and context managers."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ..types import UNSET, OptionalNullable, Unset
from ..utils.retries import RetryConfig
from .clients import DEFAULT_MAX_IN_FLIGHT, ClientPool
from .config import SDKConfig
from .core import Runtime
from .hooks import Hooks
from .options import copy_runtime

__all__ = ["SDKBase"]

_S = TypeVar("_S", bound="SDKBase")


class SDKBase:
    """Holds one :class:`~atoma_sdk._runtime.core.Runtime` and the httpx clients it sends with.

    Clients passed in are used as they are and never closed by the SDK. Clients the SDK creates (lazily, one
    shared pool per instance) are closed by :meth:`close` / :meth:`aclose`, on leaving a ``with`` /
    ``async with`` block, or when the SDK is garbage-collected.

    ``max_concurrent_requests`` bounds the async requests in flight at once (default 100, the pool size;
    None: no bound; about 8 suits CPU-bound loads on small machines);
    later ones wait their turn (see ``_runtime.clients.DEFAULT_MAX_IN_FLIGHT``).

    ``response_limits`` overrides the per-operation caps of response bodies in decoded bytes, by operation
    id (defaults in ``_runtime.bounded.RESPONSE_LIMITS``; streams: the total of one stream).
    ``stream_deadline_ms`` bounds the whole of each event stream (default: none, only the idle timeout).

    ``lock_prefetch=True`` keeps a small pool of pre-acquired confidential node locks per model (see
    ``atoma_sdk.confidential.lockpool`` and docs/confidential-latency.md); :meth:`close` stops it. The runtime
    never imports the pool: it only closes whatever ``config.lock_pool`` holds, and the generated facade's
    ``lock_pool_stats`` reads its counters.

    openai-style options beside the Speakeasy ones: the server defaults to ``$ATOMASDK_SERVER_URL`` (after
    ``server_url`` and ``server_idx``); ``default_headers`` go with every request; ``max_retries=N`` is the
    default backoff with N retries (not with ``retry_config``); ``timeout`` is seconds per attempt (like
    ``timeout_ms``) or an ``httpx.Timeout`` for each phase. After :meth:`close` every call raises
    ``ClientClosedError``.
    """

    def __init__(  # Speakeasy-compatible positional signature
        self,
        bearer_auth: str | Callable[[], str] | None = None,
        server_url: str | None = None,
        server_idx: int | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        retry_config: OptionalNullable[RetryConfig] = UNSET,
        timeout_ms: int | None = None,
        debug_logger: logging.Logger | None = None,
        hooks: Iterable[object] | None = None,
        stream_idle_timeout_ms: int | None = None,
        verification: Any = None,
        lock_prefetch: bool = False,
        max_concurrent_requests: int | None = DEFAULT_MAX_IN_FLIGHT,
        *,
        default_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float | httpx.Timeout | None = None,
        response_limits: Mapping[str, int] | None = None,
        stream_deadline_ms: int | None = None,
    ) -> None:
        config = SDKConfig.build(
            bearer_auth=bearer_auth,
            server_url=server_url,
            server_idx=server_idx,
            retry_config=retry_config,
            timeout_ms=timeout_ms,
            stream_idle_timeout_ms=stream_idle_timeout_ms,
            debug_logger=debug_logger,
            verification=verification,
            lock_prefetch=lock_prefetch,
            default_headers=default_headers,
            max_retries=max_retries,
            timeout=timeout,
            response_limits=response_limits,
            stream_deadline_ms=stream_deadline_ms,
        )
        registry = Hooks(hooks or ())
        config.server_url, client = registry.sdk_init(config.server_url, client)
        config.server_url = config.server_url.rstrip("/")
        pool = ClientPool(client, async_client, max_in_flight=max_concurrent_requests)
        self._runtime = Runtime(config, pool, registry)
        self._finalizer: weakref.finalize[Any, Any] | None = weakref.finalize(self, pool.close)

    def with_options(
        self: _S,
        *,
        bearer_auth: str | Callable[[], str] | Unset | None = UNSET,
        server_url: str | Unset = UNSET,
        server_idx: int | Unset = UNSET,
        default_headers: Mapping[str, str] | Unset = UNSET,
        max_retries: int | Unset = UNSET,
        retry_config: OptionalNullable[RetryConfig] = UNSET,
        timeout: float | httpx.Timeout | Unset = UNSET,
        timeout_ms: int | Unset = UNSET,
        stream_idle_timeout_ms: int | Unset = UNSET,
    ) -> _S:
        """A copy with some settings changed; arguments left out keep this SDK's values.

        The copy shares this SDK's HTTP clients, concurrency limit, lock pool and hooks: closing the copy
        closes nothing, closing the original ends both (later calls raise ``ClientClosedError``).
        ``default_headers`` are added to this SDK's (same names replaced). A copy with another server or
        token does not use the lock pool (its locks belong to this SDK's server and account).
        """
        changes = {
            name: value
            for name, value in (
                ("bearer_auth", bearer_auth), ("server_url", server_url), ("server_idx", server_idx),
                ("default_headers", default_headers), ("max_retries", max_retries),
                ("retry_config", retry_config), ("timeout", timeout), ("timeout_ms", timeout_ms),
                ("stream_idle_timeout_ms", stream_idle_timeout_ms),
            )
            if value is not UNSET
        }
        copy = object.__new__(type(self))
        copy._runtime = copy_runtime(self._runtime, changes)
        copy._finalizer = None
        return copy

    @property
    def hooks(self) -> Hooks:
        """The hook registry (``sdk.hooks.register_before_request_hook(...)`` and friends)."""
        return self._runtime.hooks

    @property
    def sdk_configuration(self) -> SDKConfig:
        """The resolved settings (Speakeasy name)."""
        return self._runtime.config

    def close(self) -> None:
        """Stop lock prefetching and close the clients the SDK created (user-supplied clients stay open).

        Later calls raise ``ClientClosedError``; on a ``with_options`` copy this does nothing.
        """
        if self._finalizer is None:
            return
        pool = self._runtime.config.lock_pool
        if pool is not None:
            pool.close()
        self._runtime.clients.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        if self._finalizer is None:
            return
        pool = self._runtime.config.lock_pool
        if pool is not None:
            await pool.aclose()
        await self._runtime.clients.aclose()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        config = self._runtime.config
        auth = "<redacted>" if config.bearer_auth else "None"
        return f"{type(self).__name__}(server_url={config.server_url!r}, bearer_auth={auth})"
