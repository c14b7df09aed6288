"""Chat streams that keep every chunk they yield and end with the complete (optionally parsed) response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, TypeVar

from .accumulate import ChunkAccumulator
from .parsing import parse_completion
from .types import ParsedChatCompletion

__all__ = ["ParsedStream", "ParsedStreamAsync"]

T = TypeVar("T")


class _Base(Generic[T]):
    def __init__(self, stream: Any, response_type: type[T]) -> None:
        self._stream = stream
        self._type = response_type
        self._acc = ChunkAccumulator()

    @property
    def receipt(self) -> Any:
        """The verification receipt (confidential streams; complete once the stream has ended), else None."""
        return getattr(self._stream, "receipt", None)

    def _final(self) -> ParsedChatCompletion[T]:
        usage = getattr(self._stream, "usage", None)
        return parse_completion(self._acc.completion(self.receipt, usage), self._type)


class ParsedStream(_Base[T]):
    """Yields the chat chunks; :meth:`get_final_completion` returns the parsed response."""

    def __iter__(self) -> Iterator[Any]:
        for item in self._stream:
            self._acc.add(item)
            yield item

    def __enter__(self) -> ParsedStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    def get_final_completion(self) -> ParsedChatCompletion[T]:
        """Consume the rest of the stream (verified) and return the complete parsed response."""
        for _ in self:
            pass
        return self._final()


class ParsedStreamAsync(_Base[T]):
    """Async :class:`ParsedStream`."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._stream:
            self._acc.add(item)
            yield item

    async def __aenter__(self) -> ParsedStreamAsync[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def get_final_completion(self) -> ParsedChatCompletion[T]:
        """Consume the rest of the stream (verified) and return the complete parsed response."""
        async for _ in self:
            pass
        return self._final()
