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
from typing import TYPE_CHECKING, Any, TypeVar

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

    Over ``httpx-aiohttp``'s stream it reads aiohttp's buffer directly: a chunk already received is taken
    at once (no timer), the next one is awaited under the deadline. ``aclose`` also unbinds the stream from
    its response (httpx's ``BoundAsyncStream`` and the response point at each other).
    """

    _CHUNK = 16 * 1024  # httpx-aiohttp's chunk size

    def __init__(
        self, inner: httpx.AsyncByteStream, request: httpx.Request, response: httpx.Response
    ) -> None:
        self._inner, self._request = inner, request
        self._response: httpx.Response | None = response
        content = getattr(getattr(inner, "_aiohttp_response", None), "content", None)
        self._content: Any = content if hasattr(content, "read_nowait") else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._content is None:
            chunks = self._inner.__aiter__()
            while True:
                try:
                    chunk = await _within_deadline(chunks.__anext__(), self._request)
                except StopAsyncIteration:
                    return
                yield chunk
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        content, request, size = self._content, self._request, self._CHUNK
        with map_aiohttp_exceptions():
            while True:
                check_deadline(request)
                chunk = content.read_nowait(size)
                if not chunk:
                    if content.at_eof():
                        return
                    chunk = await _within_deadline(content.read(size), request)
                    if not chunk:
                        return
                yield chunk

    async def aclose(self) -> None:
        response, self._response = self._response, None
        try:
            await self._inner.aclose()
        finally:
            if response is not None:
                response.stream = self  # drop httpx's wrapper, and with it the response <-> stream cycle


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
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None

    class _Transport(AiohttpTransport):
        def get_client(self) -> Any:
            import aiohttp

            limit = self.limits.max_connections
            connector = aiohttp.TCPConnector(
                limit=limit if limit is not None else 0,
                keepalive_timeout=self.limits.keepalive_expiry,
                ssl=self.ssl_context,
            )
            return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await _within_deadline(super().handle_async_request(request), request)
            if isinstance(response.stream, httpx.AsyncByteStream):
                response.stream = _DeadlineStream(response.stream, request, response)
            return response

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
