"""Event streams of decrypted, verified chunks, with the stream's usage and receipt."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._runtime.bounded import DEFAULT_STREAM_LIMIT
from .._runtime.eventstream import EventStream, EventStreamAsync
from ..structured.accumulate import ChunkAccumulator
from .receipt import Receipt
from .verify import StreamVerifier

if TYPE_CHECKING:
    from ..models import ChatCompletionMessageAssistant as ChatCompletionMessage
    from ..models import ChatCompletionResponse

T = TypeVar("T")

__all__ = ["ConfidentialStream", "ConfidentialStreamAsync"]


class _Accounting:
    """What both stream flavours expose besides their items."""

    _verifier: StreamVerifier | None
    _usage: Any
    receipt: Receipt

    def _account(self, verifier: StreamVerifier | None, receipt: Receipt, usage: Any) -> None:
        self._verifier = verifier
        self._usage = usage
        self.receipt = receipt
        self._accumulator = ChunkAccumulator()

    def _seen(self, item: T) -> T:
        """Every yielded chunk goes into the final completion (``get_final_completion()``)."""
        if hasattr(getattr(item, "data", None), "choices"):
            self._accumulator.add(item)
        return item

    @property
    def usage(self) -> Any:
        """The node's usage (from the final usage chunk), once the stream has ended; else None."""
        if self._verifier is not None:
            return self._verifier.usage if self.receipt.complete else None
        return self._usage


def _stream_hooks(verifier: StreamVerifier | None) -> tuple[Any, Any]:
    """The ``decode`` function and ``on_eof`` check of a stream (a buffered stream has neither)."""
    if verifier is None:
        return (lambda _event: None), None
    return verifier.decode_event, verifier.finish


class ConfidentialStream(EventStream[T], _Accounting):
    """A confidential :class:`EventStream`: items are decrypted and verified chunks.

    The final usage chunk is not yielded; ``usage`` and ``receipt`` are complete once the stream ends.
    A stream that ends early raises :class:`~atoma_sdk.errors.StreamTruncatedError`.
    """

    def __init__(
        self,
        response: httpx.Response,
        verifier: StreamVerifier | None,
        receipt: Receipt,
        *,
        idle_timeout: float | None = None,
        buffered: Iterable[T] = (),
        usage: Any = None,
        total_timeout: float | None = None,
        max_total_bytes: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        decode, on_eof = _stream_hooks(verifier)
        super().__init__(
            response, decode, on_eof=on_eof, idle_timeout=idle_timeout, total_timeout=total_timeout,
            max_total_bytes=max_total_bytes,
        )
        self._pending: deque[T] = deque(buffered)
        self._account(verifier, receipt, usage)

    def __enter__(self) -> ConfidentialStream[T]:
        return self

    def prefetch(self) -> None:
        """Read the first item now (so that failures before it can still be retried)."""
        with contextlib.suppress(StopIteration):
            self._pending.append(super().__next__())

    def __next__(self) -> T:
        if self._pending:
            return self._seen(self._pending.popleft())
        if self._verifier is None:
            self.close()
            raise StopIteration
        return self._seen(EventStream.__next__(self))  # (no super() object per event)

    def get_final_completion(self) -> ChatCompletionResponse:
        """Consume the rest of the stream; return the complete response (every choice, tool calls, usage)."""
        for _ in self:
            pass
        result: ChatCompletionResponse = self._accumulator.completion(self.receipt, self.usage)
        return result

    def final_message(self) -> ChatCompletionMessage:
        """Consume the rest of the stream; return the accumulated assistant message of the first choice."""
        parts: list[str] = []
        for item in self:
            parts.extend(_delta_texts(item))
        return _message("".join(parts))

    def text(self) -> str:
        """Consume the rest of the stream; return the accumulated text of the first choice."""
        content = self.final_message().content
        return content if isinstance(content, str) else ""


class ConfidentialStreamAsync(EventStreamAsync[T], _Accounting):
    """Async :class:`ConfidentialStream`."""

    def __init__(
        self,
        response: httpx.Response,
        verifier: StreamVerifier | None,
        receipt: Receipt,
        *,
        idle_timeout: float | None = None,
        buffered: Iterable[T] = (),
        usage: Any = None,
        total_timeout: float | None = None,
        max_total_bytes: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        decode, on_eof = _stream_hooks(verifier)
        super().__init__(
            response, decode, on_eof=on_eof, idle_timeout=idle_timeout, total_timeout=total_timeout,
            max_total_bytes=max_total_bytes,
        )
        self._pending: deque[T] = deque(buffered)
        self._account(verifier, receipt, usage)

    async def __aenter__(self) -> ConfidentialStreamAsync[T]:
        return self

    async def prefetch(self) -> None:
        """Read the first item now (so that failures before it can still be retried)."""
        with contextlib.suppress(StopAsyncIteration):
            self._pending.append(await super().__anext__())

    async def __anext__(self) -> T:
        if self._pending:
            return self._seen(self._pending.popleft())
        if self._verifier is None:
            await self.aclose()
            raise StopAsyncIteration
        return self._seen(await EventStreamAsync.__anext__(self))  # (no super() object per event)

    async def get_final_completion(self) -> ChatCompletionResponse:
        """Consume the rest of the stream; return the complete response (every choice, tool calls, usage)."""
        async for _ in self:
            pass
        result: ChatCompletionResponse = self._accumulator.completion(self.receipt, self.usage)
        return result

    async def final_message(self) -> ChatCompletionMessage:
        """Consume the rest of the stream; return the accumulated assistant message of the first choice."""
        parts: list[str] = []
        async for item in self:
            parts.extend(_delta_texts(item))
        return _message("".join(parts))

    async def text(self) -> str:
        """Consume the rest of the stream; return the accumulated text of the first choice."""
        content = (await self.final_message()).content
        return content if isinstance(content, str) else ""


def _delta_texts(item: Any) -> list[str]:
    texts: list[str] = []
    for choice in getattr(item.data, "choices", None) or []:
        if getattr(choice, "index", 0) != 0:
            continue
        delta = getattr(choice, "delta", None)
        text = getattr(delta, "content", None) if delta is not None else getattr(choice, "text", None)
        if isinstance(text, str):
            texts.append(text)
    return texts


def _message(content: str) -> ChatCompletionMessage:
    from .._runtime.serde import resolve

    model: Any = resolve("ChatCompletionMessageAssistant")
    message: ChatCompletionMessage = model.model_validate({"role": "assistant", "content": content})
    return message
