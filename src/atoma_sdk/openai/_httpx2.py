"""The httpx2 flavour of the transports, for openai releases built on httpx2 (openai 3.x).

An httpx2 client needs an ``httpx2`` transport. These adapters convert each httpx2 request to an httpx
request, let :class:`~atoma_sdk.openai.ConfidentialTransport` (one implementation for both libraries)
answer it, and convert the answer back; errors become the httpx2 exception of the same name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import httpx2  # type: ignore[import-not-found, unused-ignore]

from ..confidential.policy import VerificationPolicy
from ._answers import ReceiptCallback
from .transport import AsyncConfidentialTransport, ConfidentialTransport

__all__ = ["AsyncHttpx2ConfidentialTransport", "Httpx2ConfidentialTransport"]


def _request(request: httpx2.Request, content: bytes) -> httpx.Request:
    extensions = {"timeout": request.extensions["timeout"]} if "timeout" in request.extensions else {}
    return httpx.Request(
        request.method,
        str(request.url),
        headers=list(request.headers.multi_items()),
        content=content,
        extensions=extensions,
    )


def _error(exc: httpx.TransportError) -> httpx2.TransportError:
    cls = getattr(httpx2, type(exc).__name__, None)
    if not (isinstance(cls, type) and issubclass(cls, httpx2.TransportError)):
        cls = httpx2.TransportError
    error: httpx2.TransportError = cls(str(exc))
    return error


class _Body(httpx2.SyncByteStream):  # type: ignore[misc, unused-ignore]
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.stream  # type: ignore[misc]
        except httpx.TransportError as exc:
            raise _error(exc) from exc

    def close(self) -> None:
        self._response.close()


class _AsyncBody(httpx2.AsyncByteStream):  # type: ignore[misc, unused-ignore]
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.stream:  # type: ignore[union-attr]
                yield chunk
        except httpx.TransportError as exc:
            raise _error(exc) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


def _response(
    response: httpx.Response, stream: httpx2.SyncByteStream | httpx2.AsyncByteStream
) -> httpx2.Response:
    return httpx2.Response(response.status_code, headers=list(response.headers.multi_items()), stream=stream)


class Httpx2ConfidentialTransport(httpx2.BaseTransport):  # type: ignore[misc, unused-ignore]
    """:class:`~atoma_sdk.openai.ConfidentialTransport` for ``httpx2.Client`` (same arguments)."""

    def __init__(
        self,
        *,
        verification: VerificationPolicy | None = None,
        on_receipt: ReceiptCallback | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.transport = ConfidentialTransport(verification=verification, on_receipt=on_receipt, inner=inner)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = self.transport.handle_request(_request(request, request.read()))
        except httpx.TransportError as exc:
            raise _error(exc) from exc
        return _response(response, _Body(response))

    def close(self) -> None:
        self.transport.close()


class AsyncHttpx2ConfidentialTransport(httpx2.AsyncBaseTransport):  # type: ignore[misc, unused-ignore]
    """:class:`~atoma_sdk.openai.AsyncConfidentialTransport` for ``httpx2.AsyncClient`` (same arguments)."""

    def __init__(
        self,
        *,
        verification: VerificationPolicy | None = None,
        on_receipt: ReceiptCallback | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.transport = AsyncConfidentialTransport(
            verification=verification, on_receipt=on_receipt, inner=inner
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await self.transport.handle_async_request(_request(request, await request.aread()))
        except httpx.TransportError as exc:
            raise _error(exc) from exc
        return _response(response, _AsyncBody(response))

    async def aclose(self) -> None:
        await self.transport.aclose()
