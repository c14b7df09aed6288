"""Hand-written methods of the generated chat resources (bases named in gen.yaml ``resourceMixins``).

``parse`` / ``parse_stream`` (and ``_async`` twins) on ``chat`` and ``confidential_chat``; ``run_tools`` /
``run_tools_async`` on ``confidential_chat`` only (on plaintext ``chat`` a proxy could inject tool calls).
Importing this module builds no pydantic class: the work is imported on first call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .runner import ToolRun
    from .streams import ChatStream, ChatStreamAsync, ParsedStream, ParsedStreamAsync
    from .types import ParsedChatCompletion

__all__ = ["ChatHelpers", "ConfidentialChatHelpers"]

T = TypeVar("T")


def _request(
    kwargs: dict[str, Any], response_format: Any = None, tools: Sequence[Any] | None = None
) -> dict[str, Any]:
    from .schema import response_format as format_of
    from .schema import tool_param

    out = dict(kwargs)
    if response_format is not None:
        out["response_format"] = format_of(response_format)
    if tools is not None:
        out["tools"] = [tool_param(tool) for tool in tools]
    return out


class ChatHelpers:
    """``parse()`` and ``parse_stream()``: answers validated as a pydantic model, TypedDict or dataclass;
    ``stream()``: a chat stream that ends with ``get_final_completion()``."""

    __slots__ = ()

    def stream(self, *, tools: Sequence[Any] | None = None, **kwargs: Any) -> ChatStream:
        """``create_stream()`` ending with ``get_final_completion()`` (every choice, tool calls, usage).

        ``tools`` takes dicts, pydantic models and typed functions; other keywords are ``create_stream()``'s.
        """
        from .streams import ChatStream

        return ChatStream(self.create_stream(**_request(kwargs, tools=tools)))  # type: ignore[attr-defined]

    async def stream_async(self, *, tools: Sequence[Any] | None = None, **kwargs: Any) -> ChatStreamAsync:
        """Async :meth:`stream`."""
        from .streams import ChatStreamAsync

        return ChatStreamAsync(await self.create_stream_async(**_request(kwargs, tools=tools)))  # type: ignore[attr-defined]

    def parse(
        self, *, response_format: type[T], tools: Sequence[Any] | None = None, **kwargs: Any
    ) -> ParsedChatCompletion[T]:
        """``create()`` with a strict JSON schema derived from ``response_format``; ``message.parsed`` typed.

        Other keywords are ``create()``'s. ``tools`` takes dicts, pydantic models and typed functions.
        Raises ``errors.LengthFinishReasonError`` on truncation and ``errors.StructuredOutputError`` when the
        JSON does not validate; a refusal comes back as ``message.refusal`` with ``parsed=None``.
        """
        from .parsing import parse_completion

        response = self.create(**_request(kwargs, response_format, tools))  # type: ignore[attr-defined]
        return parse_completion(response, response_format, tools or ())

    async def parse_async(
        self, *, response_format: type[T], tools: Sequence[Any] | None = None, **kwargs: Any
    ) -> ParsedChatCompletion[T]:
        """Async :meth:`parse`."""
        from .parsing import parse_completion

        response = await self.create_async(**_request(kwargs, response_format, tools))  # type: ignore[attr-defined]
        return parse_completion(response, response_format, tools or ())

    def parse_stream(
        self, *, response_format: type[T], tools: Sequence[Any] | None = None, **kwargs: Any
    ) -> ParsedStream[T]:
        """Stream the answer: iterate its chunks; ``get_final_completion()`` returns the parsed response."""
        from .streams import ParsedStream

        stream = self.create_stream(**_request(kwargs, response_format, tools))  # type: ignore[attr-defined]
        return ParsedStream(stream, response_format, tools or ())

    async def parse_stream_async(
        self, *, response_format: type[T], tools: Sequence[Any] | None = None, **kwargs: Any
    ) -> ParsedStreamAsync[T]:
        """Async :meth:`parse_stream`."""
        from .streams import ParsedStreamAsync

        stream = await self.create_stream_async(**_request(kwargs, response_format, tools))  # type: ignore[attr-defined]
        return ParsedStreamAsync(stream, response_format, tools or ())


def _policy(resource: Any, verification: Any) -> Any:
    from ..confidential.policy import DEFAULT_POLICY
    from .runner import check_policy

    policy = verification or resource._runtime.config.verification or DEFAULT_POLICY
    check_policy(policy)
    return policy


class ConfidentialChatHelpers(ChatHelpers):
    """:class:`ChatHelpers` plus the verified-only tool runner."""

    __slots__ = ()

    def run_tools(
        self,
        *,
        messages: Sequence[Any],
        tools: Sequence[Callable[..., Any]],
        max_turns: int = 10,
        stream: bool = False,
        on_chunk: Callable[[Any], None] | None = None,
        on_tool_error: str = "return",
        verification: Any = None,
        **kwargs: Any,
    ) -> ToolRun:
        """Call the model, run the tools it asks for (in order), send the results back; repeat.

        Stops when the model answers without tool calls or after ``max_turns`` model calls. Runs only tool
        calls of answers that verified (a stream only once it verified complete) and refuses a policy that
        does not check hashes and signatures. A tool's exception goes back to the model as an error result
        (``on_tool_error="raise"`` re-raises it). ``stream=True`` streams each turn to ``on_chunk``.
        """
        from . import runner

        policy = _policy(self, verification)
        table, run = runner.start(messages, tools, max_turns)
        request = {**kwargs, "tools": runner.definitions(tools), "verification": policy}
        while len(run.turns) < max_turns:
            if stream:
                chat_stream = self.create_stream(messages=run.messages, **request)  # type: ignore[attr-defined]
                for chunk in chat_stream:
                    if on_chunk is not None:
                        on_chunk(chunk)
                response = chat_stream.get_final_completion()
            else:
                response = self.create(messages=run.messages, **request)  # type: ignore[attr-defined]
            calls = runner.record(run, response, max_turns)
            if not calls:
                return run
            run.messages.extend(runner.execute(table, calls, on_tool_error))
        return run

    async def run_tools_async(
        self,
        *,
        messages: Sequence[Any],
        tools: Sequence[Callable[..., Any]],
        max_turns: int = 10,
        stream: bool = False,
        on_chunk: Callable[[Any], None] | None = None,
        on_tool_error: str = "return",
        verification: Any = None,
        **kwargs: Any,
    ) -> ToolRun:
        """Async :meth:`run_tools`: sync or async tools; one answer's tool calls run concurrently."""
        from . import runner

        policy = _policy(self, verification)
        table, run = runner.start(messages, tools, max_turns)
        request = {**kwargs, "tools": runner.definitions(tools), "verification": policy}
        while len(run.turns) < max_turns:
            if stream:
                chat_stream = await self.create_stream_async(messages=run.messages, **request)  # type: ignore[attr-defined]
                async for chunk in chat_stream:
                    if on_chunk is not None:
                        on_chunk(chunk)
                response = await chat_stream.get_final_completion()
            else:
                response = await self.create_async(messages=run.messages, **request)  # type: ignore[attr-defined]
            calls = runner.record(run, response, max_turns)
            if not calls:
                return run
            run.messages.extend(await runner.execute_async(table, calls, on_tool_error))
        return run
