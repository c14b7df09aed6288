"""The httpx clients of one SDK instance: created lazily, shared, and closed only if the SDK owns them."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .. import errors
from .config import DEFAULT_MAX_CONNECTIONS, default_limits, default_timeout

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_IN_FLIGHT",
    "ClientPool",
    "build_request",
    "default_limits",
    "default_timeout",
    "owned_async_client",
    "owned_async_transport",
    "owned_client",
    "owned_transport",
    "request_timeout",
    "send",
    "send_async",
]

T = TypeVar("T")

#: Async requests one SDK sends at once (``AtomaSDK(max_concurrent_requests=...)``); the rest wait in FIFO
#: order instead of queueing inside the connection pool. The default matches the pool, so it never throttles
#: real (latency-bound) traffic; with the linear pool assignment (``pool.py``) a smaller bound no longer pays
#: on CPU-bound loads either (benchmarks/RESULTS.md cases 6 and 9).
DEFAULT_MAX_IN_FLIGHT = DEFAULT_MAX_CONNECTIONS

# Close tasks scheduled from sync code must stay referenced until they finish.
_PENDING: set[asyncio.Task[None]] = set()
# Every pool, so that a forked child can drop the connections it inherited (see ``_after_fork_in_child``).
_POOLS: weakref.WeakSet[ClientPool] = weakref.WeakSet()
# Clients inherited over fork: kept referenced and never closed in the child (closing could disturb the
# parent's connections, e.g. a TLS close_notify on a shared socket).
_INHERITED: list[object] = []


_Transport = TypeVar("_Transport", httpx.HTTPTransport, httpx.AsyncHTTPTransport)


def _sdk_owned(transport: _Transport) -> _Transport:
    """``transport`` with deadlines enforced at every socket operation and the linear pool assignment."""
    from .netdeadline import install  # httpcore: loaded with the first transport, not by ``import atoma_sdk``
    from .pool import speed_up

    install(transport)
    speed_up(transport)  # a proxy's pool keeps httpcore's own assignment
    return transport


def owned_transport(proxy: httpx.Proxy | None = None) -> httpx.HTTPTransport:
    """An SDK-owned sync transport: default pool limits, deadlines enforced at every socket operation."""
    return _sdk_owned(httpx.HTTPTransport(limits=default_limits(), proxy=proxy))


def owned_async_transport(proxy: httpx.Proxy | None = None) -> httpx.AsyncHTTPTransport:
    """Async :func:`owned_transport`."""
    return _sdk_owned(httpx.AsyncHTTPTransport(limits=default_limits(), proxy=proxy))


def _environment_mounts(make: Callable[[httpx.Proxy], T]) -> dict[str, T | None]:
    """The proxies httpx reads from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``) as mounts of SDK-owned transports: a client given a transport, as the SDK's own are,
    reads none itself. Patterns that ``NO_PROXY`` exempts map to None (the client's own transport)."""
    try:
        from httpx._utils import get_environment_proxies
    except ImportError:  # pragma: no cover - another httpx: no proxies from the environment, as before
        return {}
    mounts: dict[str, T | None] = {}
    for pattern, url in get_environment_proxies().items():
        try:
            mounts[pattern] = None if url is None else make(httpx.Proxy(url))
        except (ValueError, ImportError, httpx.InvalidURL) as exc:
            # Not the URL: it may hold a password.
            raise errors.RequestValidationError(
                f"the proxy the environment sets for {pattern!r} is not usable ({type(exc).__name__})"
            ) from None
    return mounts


def owned_client() -> httpx.Client:
    """An SDK-owned sync client (redirects are never followed: the runtime sends with
    ``follow_redirects=False`` whatever the client), with httpx's proxies from the environment."""
    return httpx.Client(
        timeout=default_timeout(), transport=owned_transport(), mounts=_environment_mounts(owned_transport)
    )


def owned_async_client() -> httpx.AsyncClient:
    """Async :func:`owned_client`."""
    return httpx.AsyncClient(
        timeout=default_timeout(),
        transport=owned_async_transport(),
        mounts=_environment_mounts(owned_async_transport),
    )


_HTTPX_MANAGED = frozenset({b"host", b"content-length", b"transfer-encoding"})
_BODYLESS = (b"Content-Length", b"0")


def build_request(
    client: httpx.Client | httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    body: bytes | None,
    headers: dict[str, str],
    timeout: httpx.Timeout,
) -> httpx.Request:
    """``client.build_request(method, url, content=body, headers=headers, timeout=timeout)``, cheaper.

    httpx merges the headers one by one and then adds ``Host`` and ``Content-Length`` with a lookup each
    (every lookup a scan of the list; ~50 µs in all). Here the list is built once in httpx's order: ``Host``,
    the client's headers that ``headers`` does not override, ``headers``, ``Content-Length`` (``0`` second
    for an empty POST/PUT/PATCH, as httpx does), and the request is made from its byte stream. A client
    with cookies or query parameters, its own ``Host`` / length headers, a relative URL or an overridden
    ``build_request`` takes httpx's own path.
    """
    merged = _header_list(client, method, url, body, headers)
    if merged is None:
        return client.build_request(method, url, content=body, headers=headers, timeout=timeout)
    request = httpx.Request(
        method,
        url,
        headers=merged,
        stream=httpx.ByteStream(body if body is not None else b""),
        extensions={"timeout": timeout.as_dict()},
    )
    request.read()  # ``request.content``, as a request built from ``content=`` has it
    return request


def _header_list(
    client: httpx.Client | httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    body: bytes | None,
    headers: dict[str, str],
) -> list[tuple[bytes, bytes]] | None:
    """The request's whole header list in httpx's order, or None where httpx's own path must build it."""
    if (
        type(client).build_request is not httpx.Client.build_request
        or url.is_relative_url
        or client.params
        or client.cookies
    ):
        return None
    own = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]  # as httpx does
    overridden = {name.lower() for name, _ in own}
    if not overridden.isdisjoint(_HTTPX_MANAGED):
        return None
    merged: list[tuple[bytes, bytes]] = [(b"Host", url.netloc)]
    for name, value in client.headers.raw:
        lowered = name.lower()
        if lowered in _HTTPX_MANAGED:
            return None
        if lowered not in overridden:
            merged.append((name, value))
    merged.extend(own)
    if body:
        merged.append((b"Content-Length", str(len(body)).encode("ascii")))
    elif method.upper() in ("POST", "PUT", "PATCH"):
        merged.insert(1, _BODYLESS)
    return merged


#: httpx's logger: ``client.send`` writes an INFO line per request (while it is enabled, that path is taken).
_HTTPX_LOG = logging.getLogger("httpx")
_STATES: Any = getattr(httpx._client, "ClientState", None)


def _direct_transport(
    client: httpx.Client | httpx.AsyncClient, request: httpx.Request, sends: Any, stream_type: type
) -> Any:
    """The transport an SDK-owned client would hand ``request`` to, when ``client.send`` would do nothing
    else with it (no auth flow, event hook or INFO log; not closed; no redirect followed, since the SDK
    never asks). None: ``client.send`` must run (also when this httpx's client internals differ).

    ``client.send``'s path (``send`` > auth flow > redirect loop > ``_send_single_request``) has the same
    shape in httpx 0.27.2, 0.28.1 and 0.29 (compared line by line; tests/runtime/test_direct_send.py compares
    the results on the installed one)."""
    if _STATES is None:  # pragma: no cover - another httpx
        return None
    try:
        hooks = client._event_hooks
        if (
            getattr(client.send, "__func__", None) is not sends
            or client._state is _STATES.CLOSED
            or client._auth is not None
            or hooks["request"]
            or hooks["response"]
            or request.url.userinfo
            or "timeout" not in request.extensions
            or not isinstance(request.stream, stream_type)
            or _HTTPX_LOG.isEnabledFor(logging.INFO)
        ):
            return None
        return client._transport_for_url(request.url)
    except (AttributeError, KeyError, TypeError):  # pragma: no cover - another httpx's internals
        return None


class _BoundSync(httpx.SyncByteStream):
    """httpx's ``BoundSyncStream`` (sets ``response.elapsed`` on close) without a generator per body."""

    __slots__ = ("_response", "_start", "_stream")

    def __init__(self, stream: httpx.SyncByteStream, response: httpx.Response, start: float) -> None:
        self._stream, self._response, self._start = stream, response, start

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def close(self) -> None:
        self._response.elapsed = datetime.timedelta(seconds=time.perf_counter() - self._start)
        self._stream.close()


class _BoundAsync(httpx.AsyncByteStream):
    """Async :class:`_BoundSync` (httpx's ``BoundAsyncStream``)."""

    __slots__ = ("_response", "_start", "_stream")

    def __init__(self, stream: httpx.AsyncByteStream, response: httpx.Response, start: float) -> None:
        self._stream, self._response, self._start = stream, response, start

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    def take_whole(self) -> bytes | None:
        """The inner stream's ``take_whole()`` (the whole body once received; see ``bounded.aread_body``)."""
        take = getattr(self._stream, "take_whole", None)
        return None if take is None else take()

    async def aclose(self) -> None:
        self._response.elapsed = datetime.timedelta(seconds=time.perf_counter() - self._start)
        await self._stream.aclose()


def _bind(client: httpx.Client | httpx.AsyncClient, request: httpx.Request, response: httpx.Response) -> None:
    """What ``client.send`` does with a transport's response before returning it: request, cookies,
    default encoding, and the next request of a redirect (built, never followed; it may raise)."""
    response.request = request
    headers = response.headers
    if "set-cookie" in headers or "set-cookie2" in headers:  # else the jar's parse would store nothing
        client.cookies.extract_cookies(response)
    response.default_encoding = client._default_encoding
    if response.has_redirect_location:
        response.next_request = client._build_redirect_request(request, response)


def send(client: httpx.Client, request: httpx.Request, *, owned: bool) -> httpx.Response:
    """``client.send(request, stream=True, follow_redirects=False)``; on a client the SDK owns, the same
    result handed straight to its transport when none of ``send``'s layers would act (the auth flow,
    redirect loop, event hooks and log: see :func:`_direct_transport`)."""
    transport: httpx.BaseTransport | None = None
    if owned:
        transport = _direct_transport(client, request, httpx.Client.send, httpx.SyncByteStream)
    if transport is None:
        return client.send(request, stream=True, follow_redirects=False)
    client._state = _STATES.OPENED
    start = time.perf_counter()
    try:
        response = transport.handle_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    assert isinstance(response.stream, httpx.SyncByteStream)  # as httpx asserts
    response.stream = _BoundSync(response.stream, response, start)
    try:
        _bind(client, request, response)
    except BaseException:
        response.close()
        raise
    return response


async def send_async(client: httpx.AsyncClient, request: httpx.Request, *, owned: bool) -> httpx.Response:
    """Async :func:`send`."""
    transport: httpx.AsyncBaseTransport | None = None
    if owned:
        transport = _direct_transport(client, request, httpx.AsyncClient.send, httpx.AsyncByteStream)
    if transport is None:
        return await client.send(request, stream=True, follow_redirects=False)
    client._state = _STATES.OPENED
    start = time.perf_counter()
    try:
        response = await transport.handle_async_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    assert isinstance(response.stream, httpx.AsyncByteStream)  # as httpx asserts
    response.stream = _BoundAsync(response.stream, response, start)
    try:
        _bind(client, request, response)
    except BaseException:
        await response.aclose()
        raise
    return response


def request_timeout(
    client_timeout: httpx.Timeout,
    timeout_ms: int | None,
    *,
    stream: bool,
    idle_timeout_s: float,
) -> httpx.Timeout:
    """The timeout of one attempt.

    ``timeout_ms`` (from the call or the SDK) bounds every phase; otherwise the client's own timeouts apply.
    Streams read with at most the idle timeout, so a silent server fails instead of hanging.
    """
    base = httpx.Timeout(timeout_ms / 1000.0) if timeout_ms is not None else client_timeout
    if not stream:
        return base
    read = idle_timeout_s if base.read is None else min(base.read, idle_timeout_s)
    if timeout_ms is not None:
        read = idle_timeout_s
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


class ClientPool:
    """One sync and one async httpx client per SDK, created on first use (thread-safe).

    Clients passed by the user are used as they are and never closed here, except a
    :class:`~atoma_sdk._runtime.aio.DefaultAioHttpClient`, which the SDK owns (see ``_runtime/aio.py``).
    In a child made by ``os.fork`` the SDK-owned clients are replaced (never the parent's connections);
    clients passed by the user are the user's to replace after a fork. Clients the SDK creates get the
    linear connection assignment of ``_runtime/pool.py``.
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        *,
        max_in_flight: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        if max_in_flight is not None and max_in_flight < 1:
            raise errors.RequestValidationError("max_concurrent_requests must be at least 1 (or None)")
        self.max_in_flight = max_in_flight
        self._slots: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._client = client
        self._async_client = async_client
        self.owns_client = client is None
        self.owns_async_client = async_client is None
        if async_client is not None:  # aio is imported only when a client is given (import time)
            from .aio import claim_for_sdk

            self.owns_async_client = claim_for_sdk(async_client)
        # An owned DefaultAioHttpClient is recreated from its settings in a forked child (``fresh()``).
        owned_given = async_client is not None and self.owns_async_client
        self._async_template: Any = async_client if owned_given else None
        #: Set by :meth:`close` / :meth:`aclose`: no request is sent through this pool afterwards.
        self.closed = False
        _POOLS.add(self)

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the SDK-owned clients (their sockets are the parent's) and the lock."""
        self._lock = threading.Lock()
        if self.owns_client and self._client is not None:
            _INHERITED.append(self._client)
            self._client = None
        if self.owns_async_client and self._async_client is not None:
            _INHERITED.append(self._async_client)
            self._async_client = None

    def sync(self) -> httpx.Client:
        """The sync client (created on first use when the SDK owns it); ClientClosedError once closed."""
        client = self._client
        if self.closed:
            raise _closed()
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = owned_client()
                client = self._client
        return client

    def async_(self) -> httpx.AsyncClient:
        """The async client (created on first use when the SDK owns it); ClientClosedError once closed."""
        client = self._async_client
        if self.closed:
            raise _closed()
        if client is None:
            with self._lock:
                if self._async_client is None:
                    self._async_client = self._new_async_client()
                client = self._async_client
        return client

    def _new_async_client(self) -> httpx.AsyncClient:
        if self._async_template is not None:
            fresh: httpx.AsyncClient = self._async_template.fresh()
            return fresh
        return owned_async_client()

    def request_slot(self) -> Any:
        """An async context manager that holds one of ``max_in_flight`` request slots of the running loop."""
        limit = self.max_in_flight
        if limit is None:
            return contextlib.nullcontext()
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another async library (trio): httpx's own pool limits apply
            return contextlib.nullcontext()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(limit)
        return slots

    def _take_owned(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        with self._lock:
            self.closed = True
            client = self._client if self.owns_client else None
            async_client = self._async_client if self.owns_async_client else None
            if self.owns_client:
                self._client = None
            if self.owns_async_client:
                self._async_client = None
        return client, async_client

    def close(self) -> None:
        """Close the SDK-owned clients (the async one best-effort); later calls raise ClientClosedError."""
        client, async_client = self._take_owned()
        if client is not None:
            client.close()
        if async_client is not None:
            _close_async_from_sync(async_client.aclose())

    async def aclose(self) -> None:
        """Close the SDK-owned clients."""
        client, async_client = self._take_owned()
        if client is not None:
            client.close()
        if async_client is not None:
            await async_client.aclose()


def _closed() -> errors.ClientClosedError:
    return errors.ClientClosedError("this AtomaSDK was closed; create a new one (calls never reopen it)")


def _after_fork_in_child() -> None:
    """A forked child never reuses its parent's pooled connections: SDK-owned clients are recreated."""
    for pool in list(_POOLS):
        pool._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


async def _quietly(closing: Coroutine[Any, Any, None]) -> None:
    # A collected client's connections may belong to another loop that is gone (``Event loop is closed``).
    with contextlib.suppress(Exception):
        await closing


def _close_async_from_sync(closing: Coroutine[Any, Any, None]) -> None:
    """Run an async close from sync code: as a task on the running loop, else on a private loop."""
    import asyncio  # only here: importing asyncio costs ~15 ms of import time

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        task = loop.create_task(_quietly(closing))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)
        return
    # Connections bound to a loop that is gone cannot be closed gracefully; dropping them is all we can do.
    with contextlib.suppress(Exception):
        asyncio.run(closing)
