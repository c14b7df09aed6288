"""Request-level limits of the node: body size and pace, content type, path ids, and the errors they raise.

:class:`RequestLimits` is an ASGI middleware in front of the routes; :data:`EXCEPTION_HANDLERS` turn what
the routes cannot parse into 4xx answers in the proxy's JSON error shape (never a 500 with a traceback):

* a body over ``max_body_size`` -> 413 (refused from ``Content-Length`` before reading, or once the
  streamed body passes the cap; memory stays bounded either way) and the connection is closed;
* a body that stalls for ``body_timeout`` seconds between chunks -> 408;
* a non-JSON ``Content-Type`` on a ``/v1/`` request with a body -> 415 (a missing one is accepted);
* a numeric path segment outside the 64-bit range -> 400 (axum's ``Path<i64>``);
* JSON nested too deeply for the parser -> 400;
* a client that disconnects while its body is read -> nothing is sent and nothing is logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .wire import error_response

DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024
DEFAULT_BODY_TIMEOUT = 10.0
_I64_MAX = (1 << 63) - 1


class BodyTooLarge(Exception):
    """The request body passed the node's cap."""


class BodyTimeout(Exception):
    """The client stopped sending its request body."""


def too_large() -> Response:
    response = error_response(413, "Request error: Failed to buffer the request body: length limit exceeded")
    response.headers["connection"] = "close"  # do not read (and discard) the rest of the upload
    return response


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _path_error(path: str) -> Response | None:
    for segment in path.split("/"):
        digits = segment.isdigit() and segment.isascii() and len(segment) > 18
        if digits and (len(segment) > 19 or int(segment) > _I64_MAX):
            return error_response(400, "Request error: Invalid URL: path parameter is not a 64-bit integer")
    return None


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def _precheck(scope: Scope, max_body_size: int) -> Response | None:
    """What can be refused from the request line and headers alone."""
    rejected = _path_error(scope["path"])
    if rejected is not None:
        return rejected
    length = _header(scope, b"content-length")
    if length is not None:
        if not length.strip().isdigit():
            return error_response(400, "Request error: invalid Content-Length")
        if len(length) > 19 or int(length) > max_body_size:
            return too_large()
    has_body = (length is not None and int(length) > 0) or _header(scope, b"transfer-encoding") is not None
    content_type = _header(scope, b"content-type")
    api = scope["path"].startswith("/v1/")  # the proxy's routes (axum ``Json``); /_admin takes ``curl -d``
    if api and has_body and content_type is not None and not _is_json(content_type):
        return error_response(415, "Request error: Expected request with `Content-Type: application/json`")
    return None


class RequestLimits:
    """ASGI middleware: refuses over-large or mistyped requests early and bounds the body as it is read."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rejected = _precheck(scope, self.max_body_size)
        if rejected is not None:
            await rejected(scope, receive, send)
            return
        await self.app(scope, self._bounded(receive), send)

    def _bounded(self, receive: Receive) -> Receive:
        seen = 0
        done = False

        async def bounded_receive() -> Message:
            nonlocal seen, done
            if done:  # the body is complete: later calls wait for a disconnect, unbounded
                return await receive()
            try:
                with anyio.fail_after(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_size:
                    raise BodyTooLarge
                done = not message.get("more_body", False)
            return message

        return bounded_receive


async def _too_large(_: Request, __: Exception) -> Response:
    return too_large()


async def _body_timeout(_: Request, __: Exception) -> Response:
    response = error_response(408, "Request error: timed out reading the request body")
    response.headers["connection"] = "close"
    return response


async def _too_deep(_: Request, __: Exception) -> Response:
    return error_response(400, "Request error: Failed to parse body as JSON: recursion limit exceeded")


async def _disconnected(_: Request, __: Exception) -> Response:
    # The client is gone: this response is never sent, and a disconnect is not worth a log line.
    return Response(status_code=499)


#: Exception handlers for ``Starlette(exception_handlers=...)``.
EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    BodyTooLarge: _too_large,
    BodyTimeout: _body_timeout,
    RecursionError: _too_deep,
    ClientDisconnect: _disconnected,
}
