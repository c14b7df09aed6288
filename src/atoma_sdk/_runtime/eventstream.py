"""Typed iterators over a streaming ``text/event-stream`` response (sync and async).

:class:`_StreamCore` makes every decision (SSE decoding, sentinel, error events, item decoding, the
idle timeout); :class:`EventStream` and :class:`EventStreamAsync` only move bytes and close the response.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AtomaError,
    MalformedResponseError,
    ResponseValidationError,
    error_for_status,
)
from .bounded import DEFAULT_STREAM_LIMIT, BodyBudget, araw_chunks, raw_chunks, raw_headers, release
from .jsonsafe import loads
from .sse import DEFAULT_MAX_EVENT_BYTES, ServerSentEvent, SSEDecoder

__all__ = ["EventStream", "EventStreamAsync"]

T = TypeVar("T")

#: Status used for an in-stream ``{"error": {"code": ...}}`` event, by Atoma error code (else 500).
_STATUS_BY_CODE = {
    "REQUEST_ERROR": 400,
    "AUTH_ERROR": 401,
    "BALANCE_ERROR": 402,
    "NOT_FOUND": 404,
    "LOCKED": 423,
    "UNAVAILABLE_STACK": 425,
    "TOO_MANY_REQUESTS": 429,
    "SERVICE_UNAVAILABLE": 503,
}


def _error_status(error: Any) -> int:
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str):
        return _STATUS_BY_CODE.get(code, 500)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return 500


def _transport_error(exc: httpx.RequestError) -> AtomaError:
    """The typed error for a failure while reading the body."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"stream read timed out ({type(exc).__name__})")
    return APIConnectionError(f"stream interrupted: {type(exc).__name__}: {exc}")


class _StreamCore(Generic[T]):
    """Bytes in, items out: everything the sync and async streams share."""

    __slots__ = (
        "_max_total",
        "budget",
        "decode",
        "decoder",
        "done",
        "ends_at",
        "idle_timeout",
        "last_event",
        "response",
        "sentinel",
    )

    def __init__(
        self,
        response: httpx.Response,
        decode: Callable[[ServerSentEvent], T | None],
        sentinel: str | None,
        idle_timeout: float | None,
        max_event_bytes: int,
        total_timeout: float | None = None,
        max_total_bytes: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        self.response = response
        self.decode = decode
        self.sentinel = sentinel
        self.idle_timeout = idle_timeout
        self.decoder = SSEDecoder(max_event_bytes=max_event_bytes)
        self.done = False  # the sentinel arrived
        self.last_event = time.monotonic()
        self.ends_at = None if total_timeout is None else self.last_event + total_timeout
        self.budget: BodyBudget | None = None  # made on the first chunk: a bad encoding fails in iteration
        self._max_total = max_total_bytes

    def raw(self, chunk: bytes) -> Iterable[T]:
        """One raw (possibly compressed) body chunk: decoded under the stream's byte cap, then fed."""
        budget = self.budget
        if budget is None:
            headers = raw_headers(self.response)
            budget = self.budget = BodyBudget(headers, self._max_total, self.response, "stream")
        if budget.plain:  # unencoded: the chunk is the decoded piece (most streams; no generator per chunk)
            return self.feed(budget.count(chunk)) if chunk else ()
        return self._inflated(budget, chunk)

    def _inflated(self, budget: BodyBudget, chunk: bytes) -> Iterator[T]:
        for piece in budget.feed(chunk):
            yield from self.feed(piece)

    def raw_end(self) -> Iterator[T]:
        """End of the raw body: whatever the decoder still held."""
        if self.budget is not None:
            for piece in self.budget.finish():
                yield from self.feed(piece)

    def feed(self, chunk: bytes) -> Iterable[T]:
        """Decode one chunk; raise APITimeoutError if no event arrived within the idle timeout."""
        if self.ends_at is not None and time.monotonic() > self.ends_at:
            raise APITimeoutError("stream exceeded its total deadline")
        try:
            events = self.decoder.feed(chunk)
        except ResponseValidationError as exc:
            raise ResponseValidationError(exc.message, self.response) from None
        if self.idle_timeout is not None:
            now = time.monotonic()
            if events:
                self.last_event = now
            elif now - self.last_event > self.idle_timeout:
                raise APITimeoutError(f"stream sent no event for {self.idle_timeout:g} s")
        return self._items(events) if events else ()

    def finish(self) -> Iterable[T]:
        """End of body."""
        return self._items(self.decoder.finish())

    def _items(self, events: list[ServerSentEvent]) -> Iterator[T]:
        sentinel = self.sentinel
        decode = self.decode
        for event in events:
            data = event.data
            if data == sentinel:
                self.done = True
                return
            # Most events start '{"' and another key: no call for them.
            if (not data.startswith('{"') or data.startswith('{"error"')) and _looks_like_error(data):
                self._raise_error_event(data)
            item = decode(event)
            if item is not None:
                yield item
                if self.idle_timeout is not None:
                    # Time the consumer spent on the item is not server idleness.
                    self.last_event = time.monotonic()

    def _raise_error_event(self, data: str) -> None:
        try:
            body = loads(data, "a stream error event")
        except MalformedResponseError:
            return  # not acceptable JSON after all: the decode function judges it (and raises typed)
        if isinstance(body, dict) and isinstance(body.get("error"), (dict, str)):
            raise error_for_status(_error_status(body["error"]), data.encode(), self.response)


def _looks_like_error(data: str) -> bool:
    """Cheap pre-check for ``{"error": ...}`` so ordinary events are not parsed twice."""
    if data.startswith('{"'):
        return data.startswith('{"error"')
    head = data[:64].lstrip()
    return head.startswith("{") and head[1:].lstrip().startswith('"error"')


class _Closer:
    """Closes one response once; shared by a stream, its generator and its finalizer (no cycles)."""

    __slots__ = ("closed", "response")

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(httpx.HTTPError, OSError):  # a broken connection is discarded anyway
                self.response.close()
            release(self.response)

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(httpx.HTTPError, OSError):
                await self.response.aclose()
            release(self.response)


def _iterate(
    core: _StreamCore[T], closer: _Closer, on_eof: Callable[[], None] | None
) -> Generator[T, None, None]:
    try:
        chunks = raw_chunks(core.response)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except httpx.RequestError as exc:
                raise _transport_error(exc) from exc
            yield from core.raw(chunk)
            if core.done:
                break
        if not core.done:
            yield from core.raw_end()
        if not core.done:
            yield from core.finish()
        if on_eof is not None:
            on_eof()
    finally:
        closer.close()


class EventStream(Generic[T]):
    """Iterator of decoded items from a streaming response opened with an ``httpx.Client``.

    The response is closed (its connection released) when the stream is exhausted, when it raises,
    on :meth:`close`, on leaving ``with``, and when the stream is garbage-collected. ``on_eof`` runs at
    every clean end (end of body or sentinel) and may raise. ``idle_timeout`` bounds the time between
    events; keep-alive comments do not reset it.
    """

    def __init__(
        self,
        response: httpx.Response,
        decode: Callable[[ServerSentEvent], T | None],
        *,
        sentinel: str | None = None,
        on_eof: Callable[[], None] | None = None,
        idle_timeout: float | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        total_timeout: float | None = None,
        max_total_bytes: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        self.response = response
        self._core = _StreamCore(
            response, decode, sentinel, idle_timeout, max_event_bytes, total_timeout, max_total_bytes
        )
        self._on_eof = on_eof
        self._closer = _Closer(response)
        self._gen: Generator[T, None, None] | None = None
        self._finalizer = weakref.finalize(self, self._closer.close)
        self._finalizer.atexit = False

    def __iter__(self) -> EventStream[T]:
        return self

    def __next__(self) -> T:
        if self._closer.closed:
            raise StopIteration
        if self._gen is None:
            self._gen = _iterate(self._core, self._closer, self._on_eof)
        return next(self._gen)

    def close(self) -> None:
        """Release the connection; idempotent. Iterating afterwards yields nothing."""
        self._finalizer()
        gen = self._gen
        if gen is not None and not getattr(gen, "gi_running", False):  # not closing from inside
            gen.close()

    def __enter__(self) -> EventStream[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _aiterate(
    core: _StreamCore[T], closer: _Closer, on_eof: Callable[[], None] | None
) -> AsyncGenerator[T, None]:
    try:
        chunks = araw_chunks(core.response)
        while True:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except httpx.RequestError as exc:
                raise _transport_error(exc) from exc
            for item in core.raw(chunk):
                yield item
            if core.done:
                break
        if not core.done:
            for item in core.raw_end():
                yield item
        if not core.done:
            for item in core.finish():
                yield item
        if on_eof is not None:
            on_eof()
    finally:
        await closer.aclose()


_BACKGROUND_CLOSES: set[asyncio.Task[None]] = set()


def _close_later(loop: asyncio.AbstractEventLoop | None, closer: _Closer) -> None:
    """Finalizer of an unclosed async stream: schedule ``aclose`` on its asyncio loop if it still runs."""
    if closer.closed or loop is None or loop.is_closed():
        return

    def spawn() -> None:
        task = loop.create_task(closer.aclose())
        _BACKGROUND_CLOSES.add(task)
        task.add_done_callback(_BACKGROUND_CLOSES.discard)

    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
        loop.call_soon_threadsafe(spawn)


class EventStreamAsync(Generic[T]):
    """Async iterator of decoded items from a streaming response opened with an ``httpx.AsyncClient``.

    Same behaviour as :class:`EventStream`; the response is released when the stream is exhausted,
    when it raises, on :meth:`aclose` and on leaving ``async with`` (so ``break`` inside
    ``async with`` releases it). Limits of garbage collection: closing needs the event loop, so an
    unclosed stream that is collected only schedules ``aclose`` on the asyncio loop it was created
    in, and only while that loop runs; under other event loops (or after the loop stopped) the
    connection is dropped when its socket is collected. Prefer ``async with``.
    """

    def __init__(
        self,
        response: httpx.Response,
        decode: Callable[[ServerSentEvent], T | None],
        *,
        sentinel: str | None = None,
        on_eof: Callable[[], None] | None = None,
        idle_timeout: float | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        total_timeout: float | None = None,
        max_total_bytes: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        self.response = response
        self._core = _StreamCore(
            response, decode, sentinel, idle_timeout, max_event_bytes, total_timeout, max_total_bytes
        )
        self._on_eof = on_eof
        self._closer = _Closer(response)
        self._agen: AsyncGenerator[T, None] | None = None
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._finalizer = weakref.finalize(self, _close_later, loop, self._closer)
        self._finalizer.atexit = False

    def __aiter__(self) -> EventStreamAsync[T]:
        return self

    async def __anext__(self) -> T:
        if self._closer.closed:
            raise StopAsyncIteration
        if self._agen is None:
            self._agen = _aiterate(self._core, self._closer, self._on_eof)
        return await self._agen.__anext__()

    async def aclose(self) -> None:
        """Release the connection; idempotent. Iterating afterwards yields nothing."""
        self._finalizer.detach()
        agen = self._agen
        if agen is not None and not getattr(agen, "ag_running", False):
            await agen.aclose()
        await self._closer.aclose()

    async def __aenter__(self) -> EventStreamAsync[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
