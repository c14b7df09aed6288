"""``DefaultAioHttpClient``: an ``httpx.AsyncClient`` that sends over aiohttp (extra ``atoma-sdk[aiohttp]``).

The transport is ``httpx-aiohttp``'s: aiohttp moves the bytes and httpx stays the API, so everything the SDK
does with responses (typed errors, content decoding by httpx, stream reading, timeouts from the request's
``timeout`` extension) is unchanged. aiohttp is told never to follow redirects nor decompress
(``httpx-aiohttp`` passes ``allow_redirects=False, auto_decompress=False``); the client itself refuses
``follow_redirects=True`` and keeps no aiohttp cookie jar (httpx keeps the client's cookies, as with the
default transport).

Deadlines: httpcore's socket-level deadline backend (``netdeadline.py``) has no hold on aiohttp, so this
transport enforces the attempt's deadline at the asyncio level instead: sending and receiving the head, and
then each body chunk, wait at most the time left (:func:`deadline.remaining`, read when each starts); past it
the request fails as ``httpx.ReadTimeout``, as on the default transport. A chunk aiohttp has already received
is taken without a timer (it waits for nothing; a deadline already past still fails it).

Per-response costs kept off the event loop's hot path (same results): the cookie jar parses only responses
that set a cookie (:class:`_Cookies`), and a closed response is unbound from httpx's stream wrapper, which
points back at it (without that, every response and everything it holds is a reference cycle left to the
garbage collector, whose full passes grow with the number of calls in flight).

Ownership: unlike any other client passed in, a ``DefaultAioHttpClient`` belongs to the SDK it is given to
(``AtomaSDK(async_client=DefaultAioHttpClient())``): the SDK closes it with itself, and recreates one with the
same settings after ``close()`` or in a forked child. Giving one instance to a second SDK is refused.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import httpx

from .. import errors
from . import deadline
from .bounded import check_deadline
from .config import default_limits, default_timeout

if TYPE_CHECKING:
    from httpx_aiohttp import AiohttpTransport

__all__ = ["DefaultAioHttpClient", "aiohttp_transport", "claim_for_sdk"]

_INSTALL_HINT = 'DefaultAioHttpClient needs the aiohttp extra: pip install "atoma-sdk[aiohttp]"'
_T = TypeVar("_T")


async def _within_deadline(step: Awaitable[_T], request: httpx.Request) -> _T:
    """Await ``step`` for at most the current deadline's time left (none: unbounded here)."""
    import asyncio  # here, not at import time: importing the SDK loads no asyncio

    left = deadline.remaining()
    if left is None:
        return await step
    if left <= 0:
        if asyncio.iscoroutine(step):
            step.close()
        raise httpx.ReadTimeout("deadline exceeded", request=request)
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(left):
                return await step
        return await asyncio.wait_for(step, left)
    except asyncio.TimeoutError:
        raise httpx.ReadTimeout("deadline exceeded", request=request) from None


class _DeadlineStream(httpx.AsyncByteStream):
    """A response body whose every chunk waits at most the deadline's time left.

    Over ``httpx-aiohttp``'s stream it reads aiohttp's buffer directly (:class:`_Chunks`). ``aclose`` also
    unbinds the stream from its response (httpx's ``BoundAsyncStream`` and the response point at each other).
    """

    def __init__(
        self, inner: httpx.AsyncByteStream, request: httpx.Request, response: httpx.Response
    ) -> None:
        self._inner, self._request = inner, request
        self._response: httpx.Response | None = response
        content = getattr(getattr(inner, "_aiohttp_response", None), "content", None)
        self._content: Any = content if hasattr(content, "read_nowait") else None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._content is None:
            return self._relayed()
        return _Chunks(self._content, self._request)

    def take_whole(self) -> bytes | None:
        """The whole raw body when aiohttp has received all of it (taken from its buffer, which aiohttp's
        read-buffer limits keep small: a larger body is never all there), else None (nothing is awaited).
        The reader counts it under its cap and deadline as any chunk (``bounded.aread_body``)."""
        content = self._content
        if content is None or not content.is_eof():
            return None
        request = self._request
        try:
            whole: bytes = content.read_nowait(-1)
        except Exception as exc:
            try:
                _raise_mapped(exc)
            except httpx.RequestError as mapped:
                mapped.request = request  # as httpx's aiter_raw sets it
                raise
        return whole

    async def _relayed(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        while True:
            try:
                chunk = await _within_deadline(chunks.__anext__(), self._request)
            except StopAsyncIteration:
                return
            yield chunk

    async def aclose(self) -> None:
        response, self._response = self._response, None
        try:
            await self._inner.aclose()
        finally:
            if response is not None:
                response.stream = self  # drop httpx's wrapper, and with it the response <-> stream cycle


class _Chunks:
    """aiohttp's buffered body in chunks of ``httpx-aiohttp``'s size: a chunk already received is taken at
    once (no timer), the next one is awaited under the deadline; aiohttp's errors become httpx's as
    ``httpx-aiohttp`` maps them. An iterator object, not an async generator: nothing to register with the
    loop or finalize per response."""

    __slots__ = ("_content", "_request")
    _SIZE = 16 * 1024

    def __init__(self, content: Any, request: httpx.Request) -> None:
        self._content, self._request = content, request

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        content, request = self._content, self._request
        try:
            check_deadline(request)
            chunk: bytes = content.read_nowait(self._SIZE)
            if not chunk:
                if content.at_eof():
                    raise StopAsyncIteration
                chunk = await _within_deadline(content.read(self._SIZE), request)
                if not chunk:
                    raise StopAsyncIteration
        except StopAsyncIteration:
            raise
        except Exception as exc:
            _raise_mapped(exc)
        return chunk


def _raise_mapped(exc: Exception) -> NoReturn:
    """Raise ``exc`` as ``httpx-aiohttp`` maps aiohttp's errors (others unchanged)."""
    from httpx_aiohttp.transport import map_aiohttp_exceptions

    with map_aiohttp_exceptions():
        raise exc
    raise AssertionError("unreachable")  # pragma: no cover - the block above always raises


def _header_items(headers: httpx.Headers) -> list[tuple[str, str]]:
    """The header list as httpx's default transport sends it (names as given, repeats kept), as text
    decoded the way httpx decodes it (ASCII, else ``headers.encoding``)."""
    raw = headers.raw
    try:
        return [(name.decode("ascii"), value.decode("ascii")) for name, value in raw]
    except UnicodeDecodeError:
        encoding = headers.encoding
        return [(name.decode(encoding), value.decode(encoding)) for name, value in raw]


def _body(request: httpx.Request) -> bytes | None:
    """The request's body when it is read (None: a stream still to send)."""
    try:
        return request.content
    except httpx.RequestNotRead:
        return None


class _Cookies(httpx.Cookies):
    """httpx's cookie store; a response without ``Set-Cookie`` / ``Set-Cookie2`` skips the jar's parse,
    which would store nothing (about 40 µs per response)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def aiohttp_transport(
    *,
    verify: Any = True,
    cert: Any = None,
    trust_env: bool = True,
    limits: httpx.Limits | None = None,
    proxy: httpx.Proxy | None = None,
) -> AiohttpTransport:
    """An ``httpx-aiohttp`` transport with the SDK's pool limits and no aiohttp cookie jar.

    Also usable as the ``inner_transport`` of ``atoma_sdk.openai.async_confidential_http_client``.
    """
    try:
        import asyncio

        import aiohttp
        from httpx_aiohttp import AiohttpTransport
        from httpx_aiohttp.transport import AiohttpResponseStream
        from multidict import CIMultiDict
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None

    class _Transport(AiohttpTransport):
        def get_client(self) -> Any:
            limit = self.limits.max_connections
            connector = aiohttp.TCPConnector(
                limit=limit if limit is not None else 0,
                keepalive_timeout=self.limits.keepalive_expiry,
                ssl=self.ssl_context,
            )
            return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

        _timeouts: dict[tuple[Any, Any, Any], Any]

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.proxy is not None or _body(request) is None:
                opening = super().handle_async_request(request)
            else:
                opening = self._send(request)
            try:
                response = await _within_deadline(opening, request)
            except httpx.ConnectTimeout as exc:
                cause = exc.__cause__
                timeout = (TimeoutError, asyncio.TimeoutError)
                if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, timeout):
                    # httpx-aiohttp's map makes a refused connection a ConnectTimeout (first match wins)
                    raise httpx.ConnectError(str(exc), request=request) from cause
                raise
            if isinstance(response.stream, httpx.AsyncByteStream):
                response.stream = _DeadlineStream(response.stream, request, response)
            return response

        async def _send(self, request: httpx.Request) -> httpx.Response:
            """``httpx-aiohttp``'s request for a read body and no proxy, with less per-request work: the
            header list passed as aiohttp's own type (not re-merged through httpx's mapping view), one
            ``ClientTimeout`` per setting, errors mapped without a context manager per request."""
            session = self.client
            if not isinstance(session, aiohttp.ClientSession):
                session = self.client = self.get_client()
            try:
                response = await session.request(
                    request.method,
                    str(request.url),
                    headers=CIMultiDict(_header_items(request.headers)),
                    data=request.content or None,
                    allow_redirects=False,
                    auto_decompress=False,
                    compress=False,
                    timeout=self._timeout(request.extensions.get("timeout", {})),
                    server_hostname=request.extensions.get("sni_hostname"),
                )
            except Exception as exc:
                _raise_mapped(exc)
            extensions = {"http_version": b"HTTP/1.1"}
            if response.reason:
                extensions["reason_phrase"] = response.reason.encode()
            return httpx.Response(
                status_code=response.status,
                headers=response.raw_headers,
                stream=AiohttpResponseStream(response),
                request=request,
                extensions=extensions,
            )

        def _timeout(self, timeout: dict[str, Any]) -> Any:
            """aiohttp's timeout of httpx's per-phase timeouts, as ``httpx-aiohttp`` maps them (cached)."""
            key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
            cache = self.__dict__.setdefault("_timeouts", {})
            found = cache.get(key)
            if found is None:
                if len(cache) >= 32:
                    cache.clear()
                connect, read, pool = key
                found = cache[key] = aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)
            return found

    return _Transport(
        verify=verify,
        cert=cert,
        trust_env=trust_env,
        limits=limits if limits is not None else default_limits(),
        proxy=proxy,
    )


class DefaultAioHttpClient(httpx.AsyncClient):
    """An async httpx client over aiohttp with the SDK's timeouts and limits (openai-python's name).

    Takes ``httpx.AsyncClient``'s keyword arguments (``follow_redirects=True`` is refused). Pass it to
    exactly one SDK: ``AtomaSDK(async_client=DefaultAioHttpClient())``; that SDK closes it.
    """

    def __init__(self, **kwargs: Any) -> None:
        try:
            import httpx_aiohttp  # noqa: F401
        except ImportError:
            raise ImportError(_INSTALL_HINT) from None
        if kwargs.get("follow_redirects"):
            raise errors.RequestValidationError("DefaultAioHttpClient never follows redirects")
        kwargs.setdefault("timeout", default_timeout())
        kwargs.setdefault("limits", default_limits())
        kwargs["follow_redirects"] = False
        self._settings = dict(kwargs)
        self._claim_lock = threading.Lock()
        self._claimed = False
        super().__init__(**kwargs)
        self._cookies = _Cookies(self._cookies)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._cookies = _Cookies(cookies)

    def _init_transport(  # type: ignore[override]
        self, transport: Any = None, **options: Any
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport  # type: ignore[no-any-return]
        options.pop("http1", None)
        options.pop("http2", None)  # aiohttp speaks HTTP/1.1
        return aiohttp_transport(**options)

    def _init_proxy_transport(  # type: ignore[override]
        self, proxy: httpx.Proxy, **options: Any
    ) -> httpx.AsyncBaseTransport:
        options.pop("http1", None)
        options.pop("http2", None)
        return aiohttp_transport(proxy=proxy, **options)

    def claim(self) -> None:
        """Mark this client as owned by one SDK; a second claim is refused."""
        with self._claim_lock:
            if self._claimed:
                raise errors.RequestValidationError(
                    "this DefaultAioHttpClient already belongs to another SDK (it is closed with it): "
                    "create one DefaultAioHttpClient per SDK"
                )
            self._claimed = True

    def fresh(self) -> DefaultAioHttpClient:
        """A new, claimed client with the same settings (after the owning SDK closed or forked)."""
        client = DefaultAioHttpClient(**self._settings)
        client.claim()
        return client


def claim_for_sdk(client: httpx.AsyncClient | None) -> bool:
    """Whether the SDK owns ``client``: None (it creates its own) or a :class:`DefaultAioHttpClient`,
    which is claimed here (refused when another SDK has it)."""
    if client is None:
        return True
    if isinstance(client, DefaultAioHttpClient):
        client.claim()
        return True
    return False
