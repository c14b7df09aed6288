"""Bounded response bodies: a cap on *decoded* bytes, enforced while reading, before anything parses them.

httpx's decoders inflate each network read without bound, so the SDK reads raw bytes (``iter_raw``) and
inflates them itself, a bounded piece at a time: a 1 MB gzip bomb costs at most the cap plus one piece.
The SDK asks for ``gzip, deflate`` (the encodings it can bound) and refuses any other (``br``, ``zstd``,
unknown ones) with :class:`~atoma_sdk.errors.MalformedResponseError`.

Everything here works on byte chunks and headers only, so any transport (httpx today, another one later)
can reuse :class:`BodyBudget` and :func:`check_redirect`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from .. import errors
from . import deadline

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_RESPONSE_LIMIT",
    "DEFAULT_STREAM_LIMIT",
    "ERROR_BODY_LIMIT",
    "RESPONSE_LIMITS",
    "BodyBudget",
    "check_deadline",
    "aread_body",
    "araw_chunks",
    "raw_chunks",
    "limit_for",
    "read_body",
    "release",
]

KiB = 1024
MiB = 1024 * KiB

#: What the SDK asks for: only encodings it can inflate with a bound (identity is always acceptable).
ACCEPT_ENCODING = "gzip, deflate"
#: Cap of a 2XX body for operations not in :data:`RESPONSE_LIMITS`.
DEFAULT_RESPONSE_LIMIT = 8 * MiB
#: Cap of a 4XX/5XX body (longer error bodies are cut to this; the error keeps its status).
ERROR_BODY_LIMIT = 1 * MiB
#: Cap of all the (decoded) bytes of one event stream; per event, ``sse.DEFAULT_MAX_EVENT_BYTES`` applies.
DEFAULT_STREAM_LIMIT = 256 * MiB
#: Per-operation caps of 2XX bodies, by operation id (override with ``AtomaSDK(response_limits={...})``).
RESPONSE_LIMITS: Mapping[str, int] = {
    "nodes_create_lock": 1 * MiB,
    "nodes_create": 1 * MiB,
    "health": 1 * MiB,
    "models_list": 8 * MiB,
    "open_router_models_list": 8 * MiB,
    "chat_completions_create": 32 * MiB,
    "completions_create": 32 * MiB,
    "confidential_chat_completions_create": 32 * MiB,
    "confidential_completions_create": 32 * MiB,
    "embeddings_create": 128 * MiB,
    "confidential_embeddings_create": 128 * MiB,
    "image_generations_create": 128 * MiB,
    "confidential_image_generations_create": 128 * MiB,
}
#: Most decoded bytes produced per inflate step.
_PIECE = 64 * KiB


def _corrupt() -> errors.MalformedResponseError:
    return errors.MalformedResponseError("the response body is not valid compressed data")


class _Inflater:
    """Bounded gzip/deflate decoding: :meth:`feed` yields pieces of at most 64 KiB."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._raw_fallback = not self.gzip  # "deflate" is zlib-wrapped by the RFC, raw by some servers
        self._started = False
        self._d = self._new()

    def _new(self, raw: bool = False) -> Any:
        if raw:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS | 16 if self.gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._d.decompress(data, _PIECE)
            except zlib.error:
                if self._raw_fallback and not self._started:
                    self._raw_fallback = False
                    self._d = self._new(raw=True)
                    continue
                raise _corrupt() from None
            self._started = True
            data = self._d.unconsumed_tail
            if out:
                yield out
            if len(out) == _PIECE and not data:
                data = b""  # zlib may hold more output for input it has consumed: drain it
                yield from self._drain()
            if self._d.eof:
                rest = self._d.unused_data
                if not (self.gzip and rest):
                    return  # trailing bytes after a deflate stream are ignored (as httpx does)
                self._d = self._new()  # the next gzip member
                data = rest

    def _drain(self) -> Iterator[bytes]:
        while True:
            out = self._d.decompress(b"", _PIECE)
            if out:
                yield out
            if len(out) < _PIECE:
                return

    def finish(self) -> Iterator[bytes]:
        try:
            out = self._d.flush()
        except zlib.error:
            raise _corrupt() from None
        if out:
            yield out


def _inflater(headers: Mapping[str, str]) -> _Inflater | None:
    value = headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in value.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflater(codings[0])
    # Named without echoing: the value is the server's.
    raise errors.MalformedResponseError("the response uses a Content-Encoding the SDK does not accept")


class BodyBudget:
    """Raw body chunks in, decoded bytes out, at most ``limit`` of them in total.

    Going over raises :class:`~atoma_sdk.errors.ResponseTooLargeError` before the excess is held; so does a
    ``Content-Length`` above the cap of an unencoded body, before any byte is read.
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        limit: int,
        response: httpx.Response | None = None,
        what: str = "response body",
        *,
        truncate: bool = False,
    ) -> None:
        self.limit = limit
        self.total = 0
        self.response = response
        self.what = what
        #: With ``truncate``, going over keeps the first ``limit`` bytes and sets ``full`` instead of raising.
        self.truncate = truncate
        self.full = False
        self._inflater = _inflater(headers)
        #: Whether the body is unencoded: each raw chunk is a decoded piece (pass it to :meth:`count`).
        self.plain = self._inflater is None
        length = headers.get("content-length")
        declared = length is not None and length.strip().isdigit() and int(length) > limit
        if declared and self._inflater is None and not truncate:
            self._over()

    def _over(self) -> None:
        raise errors.ResponseTooLargeError(
            f"the {self.what} is larger than its cap of {self.limit} bytes", self.response, limit=self.limit
        )

    def count(self, piece: bytes) -> bytes:
        """Count one decoded piece against the cap (over it: raise, or with ``truncate`` cut it)."""
        self.total += len(piece)
        if self.total > self.limit:
            if not self.truncate:
                self._over()
            self.full = True
            return piece[: len(piece) - (self.total - self.limit)]
        return piece

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded bytes of one raw chunk, in bounded pieces."""
        if self._inflater is None:
            if raw:
                yield self.count(raw)
            return
        for piece in self._inflater.feed(raw):
            yield self.count(piece)

    def finish(self) -> Iterator[bytes]:
        """Whatever the decoder still holds at the end of the body."""
        if self._inflater is not None:
            for piece in self._inflater.finish():
                yield self.count(piece)


def preread(response: httpx.Response) -> bytes | None:
    """The (already decoded) body of a response httpx read before handing it over, e.g. one a
    ``MockTransport`` built with ``content=``; None for a response still to be read."""
    if response.is_stream_consumed and isinstance(getattr(response, "_content", None), bytes):
        return response.content
    return None


def raw_headers(response: httpx.Response) -> Mapping[str, str]:
    """The headers a :class:`BodyBudget` of ``response`` goes by (none for a pre-read, decoded body)."""
    return {} if preread(response) is not None else response.headers


def check_deadline(request: httpx.Request) -> None:
    """A body read past the attempt's deadline fails like any read timeout (so retries treat it alike)."""
    left = deadline.remaining()
    if left is not None and left <= 0:
        raise httpx.ReadTimeout("deadline exceeded", request=request)


#: The ``stream`` of a response once closed: httpx's wrapper of the live stream points back at the response,
#: a reference cycle that only the garbage collector frees (~80 objects per response).
_RELEASED = httpx.ByteStream(b"")


def release(response: httpx.Response) -> None:
    """Unbind a closed response from its stream, so that reference counting frees both."""
    response.stream = _RELEASED


def _store(response: httpx.Response, body: bytes) -> bytes:
    response._content = body  # what ``response.read()`` would have set: ``.content`` / ``.text`` work
    return body


class _Collector:
    """The decoded body of one response, gathered under a :class:`BodyBudget` (shared by the sync and async
    readers). An unencoded body keeps its chunks as they arrive and is joined once."""

    __slots__ = ("budget", "pieces")

    def __init__(self, response: httpx.Response, limit: int, what: str, truncate: bool) -> None:
        self.budget = BodyBudget(response.headers, limit, response, what, truncate=truncate)
        self.pieces: list[bytes] = []

    def add(self, response: httpx.Response, raw: bytes) -> bool:
        """Take one raw chunk; False once the (truncated) body is full."""
        check_deadline(response.request)
        budget = self.budget
        if budget.plain:
            if raw:
                self.pieces.append(budget.count(raw))
        else:
            self.pieces.extend(budget.feed(raw))
        return not budget.full

    def finish(self) -> bytes:
        """The body: what the decoder still holds is added unless the (truncated) body is already full."""
        budget = self.budget
        if not budget.plain and not budget.full:
            self.pieces.extend(budget.finish())
        return b"".join(self.pieces)


def _preread_body(response: httpx.Response, limit: int, what: str, truncate: bool) -> bytes | None:
    """The body of a response read before the SDK saw it (already decoded), held to ``limit``."""
    done = preread(response)
    if done is None:
        return None
    if len(done) <= limit:
        return done
    budget = BodyBudget({}, limit, response, what, truncate=truncate)
    return _store(response, budget.count(done))


def read_body(
    response: httpx.Response, limit: int, what: str = "response body", *, truncate: bool = False
) -> bytes:
    """Read a streamed (unread) response's body under ``limit`` decoded bytes, then close it.

    Over the cap: :class:`~atoma_sdk.errors.ResponseTooLargeError`, or with ``truncate`` the first ``limit``
    bytes (error bodies: the error keeps its status).
    """
    try:
        done = _preread_body(response, limit, what, truncate)
        if done is not None:
            return done
        collector = _Collector(response, limit, what, truncate)
        for raw in response.iter_raw():
            if not collector.add(response, raw):
                break
        body = collector.finish()
    finally:
        response.close()
        release(response)
    return _store(response, body)


def raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body's raw chunks (a pre-read body: its one decoded chunk)."""
    done = preread(response)
    return response.iter_raw() if done is None else iter((done,))


async def araw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    done = preread(response)
    if done is not None:
        yield done
        return
    async for raw in response.aiter_raw():
        yield raw


def _whole_body(response: httpx.Response) -> bytes | None:
    """The whole raw body at once when the response's stream already holds all of it (its ``take_whole()``:
    the aiohttp transport's), counted as read as ``aiter_raw`` counts it; None: read the stream."""
    take = getattr(response.stream, "take_whole", None)
    if take is None or response.is_stream_consumed or response.is_closed:
        return None
    whole: bytes | None = take()
    if whole is not None:
        response.is_stream_consumed = True
        response._num_bytes_downloaded += len(whole)
    return whole


async def aread_body(
    response: httpx.Response, limit: int, what: str = "response body", *, truncate: bool = False
) -> bytes:
    """Async :func:`read_body`."""
    try:
        done = _preread_body(response, limit, what, truncate)
        if done is not None:
            return done
        collector = _Collector(response, limit, what, truncate)
        whole = _whole_body(response)
        if whole is not None:
            collector.add(response, whole)
        else:
            async for raw in response.aiter_raw():
                if not collector.add(response, raw):
                    break
        body = collector.finish()
    finally:
        await response.aclose()
        release(response)
    return _store(response, body)


def limit_for(operation_id: str, overrides: Mapping[str, int] | None, *, stream: bool = False) -> int:
    """The cap of an operation's 2XX body (or of its whole event stream): the override, else the default."""
    if overrides and operation_id in overrides:
        return overrides[operation_id]
    if stream:
        return DEFAULT_STREAM_LIMIT
    return RESPONSE_LIMITS.get(operation_id, DEFAULT_RESPONSE_LIMIT)
