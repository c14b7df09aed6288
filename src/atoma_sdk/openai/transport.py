"""httpx transports that run OpenAI chat, completions, embeddings and image requests confidentially.

Put one into any ``httpx.Client`` / ``httpx.AsyncClient`` given to the openai client: each intercepted
request becomes one confidential unit (lock, encrypt, send, decrypt, verify) against the Atoma API at the
client's base URL without ``/v1``, authenticated with the request's own ``Authorization`` header. Reads
(``GET``, ``HEAD``, ``OPTIONS``) go to the API unchanged over the inner transport; other requests are refused.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from .. import errors
from .._runtime.clients import (
    ClientPool,
    _close_async_from_sync,
    default_timeout,
    owned_async_client,
    owned_client,
)
from .._runtime.config import SDKConfig
from .._runtime.core import Runtime
from ..confidential.policy import VerificationPolicy
from ..confidential.stream import ConfidentialStream, ConfidentialStreamAsync
from ._answers import (
    SSE_HEADERS,
    ReceiptCallback,
    StreamRenderer,
    error_response,
    json_response,
    transport_error,
)
from ._request import FORWARDED_METHODS, Intercept, Refusal, parse
from ._unit import RecordingCall, unit_for

__all__ = ["AsyncConfidentialTransport", "ConfidentialTransport"]


def _no_token() -> str:
    # The bearer always comes from the intercepted request, never from the environment.
    return ""


class _Shared:
    """Settings and decisions both transports share."""

    def __init__(self, verification: VerificationPolicy | None, on_receipt: ReceiptCallback | None) -> None:
        if verification is not None and not isinstance(verification, VerificationPolicy):
            raise TypeError("verification must be an atoma_sdk.VerificationPolicy")
        self.verification = verification
        self.on_receipt = on_receipt

    @staticmethod
    def runtime(client: httpx.Client | None, async_client: httpx.AsyncClient | None) -> Runtime:
        config = SDKConfig.build(bearer_auth=_no_token, retry_config=None)
        return Runtime(config, ClientPool(client, async_client))

    @staticmethod
    def intercept(request: httpx.Request, content: bytes) -> Intercept:
        url = request.url
        return parse(
            method=request.method,
            scheme=url.scheme,
            netloc=url.netloc.decode("ascii"),
            path=url.path,
            authorization=request.headers.get("authorization"),
            content=content,
            timeout=request.extensions.get("timeout"),
        )

    def unit(self, runtime: Runtime, intercept: Intercept) -> RecordingCall:
        return unit_for(runtime, intercept, self.verification)

    def answered(self, call: RecordingCall, intercept: Intercept, result: Any) -> httpx.Response:
        """The response for a non-streamed unit's verified result."""
        response = json_response(call, intercept)
        if self.on_receipt is not None:
            self.on_receipt(result.receipt)
        return response

    @staticmethod
    def stream_response(stream: httpx.SyncByteStream | httpx.AsyncByteStream) -> httpx.Response:
        return httpx.Response(200, headers=list(SSE_HEADERS), stream=stream)


class ConfidentialTransport(httpx.BaseTransport, _Shared):
    """A sync httpx transport that makes the openai client's compute requests confidential.

    ``verification``: the :class:`~atoma_sdk.VerificationPolicy` (default: fail closed). ``on_receipt``:
    called with each call's :class:`~atoma_sdk.confidential.receipt.Receipt` once its answer verified (for a
    stream, when it ended). ``inner``: the transport that reaches the API (default: the SDK's own, through
    the proxies httpx reads from the environment).
    """

    def __init__(
        self,
        *,
        verification: VerificationPolicy | None = None,
        on_receipt: ReceiptCallback | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        _Shared.__init__(self, verification, on_receipt)
        self._inner = inner
        self._client = (
            owned_client() if inner is None else httpx.Client(transport=inner, timeout=default_timeout())
        )
        self._runtime = self.runtime(self._client, None)
        # Closed when the transport is collected too: an openai client never closed leaves no socket open.
        self._finalizer = weakref.finalize(self, self._client.close)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method.upper() in FORWARDED_METHODS:
            forward: httpx.BaseTransport = _route(self._client, self._inner, request)
            return forward.handle_request(request)
        try:
            intercept = self.intercept(request, request.read())
            call = self.unit(self._runtime, intercept)
            result = call.run()
        except Refusal as exc:
            return error_response(exc)
        except errors.APIConnectionError as exc:
            raise transport_error(exc) from None
        except errors.AtomaError as exc:
            return error_response(exc)
        if not intercept.stream:
            return self.answered(call, intercept, result)
        return self.stream_response(_SSEBody(result, StreamRenderer(call, intercept, self.on_receipt)))

    def close(self) -> None:
        self._finalizer()


class AsyncConfidentialTransport(httpx.AsyncBaseTransport, _Shared):
    """Async :class:`ConfidentialTransport`."""

    def __init__(
        self,
        *,
        verification: VerificationPolicy | None = None,
        on_receipt: ReceiptCallback | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _Shared.__init__(self, verification, on_receipt)
        self._inner = inner
        self._client = (
            owned_async_client()
            if inner is None
            else httpx.AsyncClient(transport=inner, timeout=default_timeout())
        )
        self._runtime = self.runtime(None, self._client)
        self._finalizer = weakref.finalize(self, _close_later, self._client)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method.upper() in FORWARDED_METHODS:
            forward: httpx.AsyncBaseTransport = _route(self._client, self._inner, request)
            return await forward.handle_async_request(request)
        try:
            intercept = self.intercept(request, await request.aread())
            call = self.unit(self._runtime, intercept)
            result = await call.run_async()
        except Refusal as exc:
            return error_response(exc)
        except errors.APIConnectionError as exc:
            raise transport_error(exc) from None
        except errors.AtomaError as exc:
            return error_response(exc)
        if not intercept.stream:
            return self.answered(call, intercept, result)
        return self.stream_response(_AsyncSSEBody(result, StreamRenderer(call, intercept, self.on_receipt)))

    async def aclose(self) -> None:
        self._finalizer.detach()
        await self._client.aclose()


def _route(client: Any, inner: Any, request: httpx.Request) -> Any:
    """The transport a forwarded read goes over: the one given, else the one the SDK-owned client picks for
    its URL (an environment proxy, or the client's own transport)."""
    if inner is not None:
        return inner
    pick = getattr(client, "_transport_for_url", None)  # httpx's own choice among its mounts
    return client._transport if pick is None else pick(request.url)


def _close_later(client: httpx.AsyncClient) -> None:
    """Close a collected async transport's client (best effort: on the running loop, else a private one)."""
    if not client.is_closed:
        _close_async_from_sync(client.aclose())


class _SSEBody(httpx.SyncByteStream):
    """The SSE body of one confidential stream: verified chunks, then ``[DONE]`` or an error event."""

    def __init__(self, stream: ConfidentialStream[Any], renderer: StreamRenderer) -> None:
        self._stream = stream
        self._renderer = renderer

    def __iter__(self) -> Iterator[bytes]:
        if not self._renderer.begin():
            return
        try:
            for item in self._stream:
                yield from self._renderer.item(item)
            tail = self._renderer.end(self._stream)
        except errors.AtomaError as exc:
            yield self._renderer.error(exc)
            return
        finally:
            self._stream.close()
        yield from tail

    def close(self) -> None:
        self._stream.close()


class _AsyncSSEBody(httpx.AsyncByteStream):
    """Async :class:`_SSEBody`."""

    def __init__(self, stream: ConfidentialStreamAsync[Any], renderer: StreamRenderer) -> None:
        self._stream = stream
        self._renderer = renderer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if not self._renderer.begin():
            return
        try:
            async for item in self._stream:
                for frame in self._renderer.item(item):
                    yield frame
            tail = self._renderer.end(self._stream)
        except errors.AtomaError as exc:
            yield self._renderer.error(exc)
            return
        finally:
            await self._stream.aclose()
        for frame in tail:
            yield frame

    async def aclose(self) -> None:
        await self._stream.aclose()
