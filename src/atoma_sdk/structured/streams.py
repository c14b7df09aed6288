"""Chat streams that keep every chunk they yield and end with the complete (optionally parsed) response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .accumulate import ChunkAccumulator
from .parsing import parse_completion
from .types import ParsedChatCompletion

if TYPE_CHECKING:
    from ..models import ChatCompletionResponse

__all__ = ["ChatStream", "ChatStreamAsync", "ParsedStream", "ParsedStreamAsync"]

T = TypeVar("T")


class _Accumulating:
    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._acc = ChunkAccumulator()

    @property
    def receipt(self) -> Any:
        """The verification receipt (confidential streams; complete once the stream has ended), else None."""
        return getattr(self._stream, "receipt", None)

    def _completion(self) -> ChatCompletionResponse:
        result: ChatCompletionResponse = self._acc.completion(
            self.receipt, getattr(self._stream, "usage", None)
        )
        return result


class ChatStream(_Accumulating):
    """Yields the chat chunks; :meth:`get_final_completion` returns the complete response."""

    def __iter__(self) -> Iterator[Any]:
        for item in self._stream:
            self._acc.add(item)
            yield item

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    def get_final_completion(self) -> ChatCompletionResponse:
        """Consume the rest of the stream (verified) and return the complete response."""
        for _ in self:
            pass
        return self._completion()


class ChatStreamAsync(_Accumulating):
    """Async :class:`ChatStream`."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._stream:
            self._acc.add(item)
            yield item

    async def __aenter__(self) -> ChatStreamAsync:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def get_final_completion(self) -> ChatCompletionResponse:
        """Consume the rest of the stream (verified) and return the complete response."""
        async for _ in self:
            pass
        return self._completion()


class ParsedStream(ChatStream, Generic[T]):
    """A :class:`ChatStream` whose final completion carries ``message.parsed``."""

    def __init__(self, stream: Any, response_type: type[T], tools: Any = ()) -> None:
        super().__init__(stream)
        self._type = response_type
        self._tools = tools

    def __enter__(self) -> ParsedStream[T]:
        return self

    def get_final_completion(self) -> ParsedChatCompletion[T]:
        """Consume the rest of the stream (verified) and return the complete parsed response."""
        return parse_completion(super().get_final_completion(), self._type, self._tools)


class ParsedStreamAsync(ChatStreamAsync, Generic[T]):
    """Async :class:`ParsedStream`."""

    def __init__(self, stream: Any, response_type: type[T], tools: Any = ()) -> None:
        super().__init__(stream)
        self._type = response_type
        self._tools = tools

    async def __aenter__(self) -> ParsedStreamAsync[T]:
        return self

    async def get_final_completion(self) -> ParsedChatCompletion[T]:
        """Consume the rest of the stream (verified) and return the complete parsed response."""
        return parse_completion(await super().get_final_completion(), self._type, self._tools)
