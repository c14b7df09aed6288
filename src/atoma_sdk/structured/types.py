"""The typed results of ``parse()``: the chat completion response with ``message.parsed`` typed."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ..models import (
    ChatCompletionChoice,
    ChatCompletionMessageAssistant,
    ChatCompletionResponse,
    ToolCall,
    ToolCallFunction,
)

__all__ = [
    "ParsedChatCompletion",
    "ParsedChatCompletionMessage",
    "ParsedChoice",
    "ParsedFunction",
    "ParsedToolCall",
    "ResponseT",
]

ResponseT = TypeVar("ResponseT")


class ParsedFunction(ToolCallFunction):
    """A called function; ``parsed_arguments`` is set when the tool was a pydantic model or a function
    given to ``parse()`` (the model instance, or a dict of the function's validated arguments)."""

    parsed_arguments: Any = None


class ParsedToolCall(ToolCall):
    """A tool call with :class:`ParsedFunction`."""

    function: ParsedFunction


class ParsedChatCompletionMessage(ChatCompletionMessageAssistant, Generic[ResponseT]):
    """An assistant message whose JSON content was validated as ``ResponseT`` (None on a refusal)."""

    parsed: ResponseT | None = None
    tool_calls: list[ParsedToolCall] | None = None  # type: ignore[assignment]


class ParsedChoice(ChatCompletionChoice, Generic[ResponseT]):
    """A choice with a parsed message."""

    message: ParsedChatCompletionMessage[ResponseT]


class ParsedChatCompletion(ChatCompletionResponse, Generic[ResponseT]):
    """A chat completion response whose choices carry ``message.parsed``."""

    choices: list[ParsedChoice[ResponseT]]  # type: ignore[assignment]
