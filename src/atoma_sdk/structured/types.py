"""The typed results of ``parse()``: the chat completion response with ``message.parsed`` typed."""

from __future__ import annotations

from typing import Generic, TypeVar

from ..models import ChatCompletionChoice, ChatCompletionMessageAssistant, ChatCompletionResponse

__all__ = ["ParsedChatCompletion", "ParsedChatCompletionMessage", "ParsedChoice", "ResponseT"]

ResponseT = TypeVar("ResponseT")


class ParsedChatCompletionMessage(ChatCompletionMessageAssistant, Generic[ResponseT]):
    """An assistant message whose JSON content was validated as ``ResponseT`` (None on a refusal)."""

    parsed: ResponseT | None = None


class ParsedChoice(ChatCompletionChoice, Generic[ResponseT]):
    """A choice with a parsed message."""

    message: ParsedChatCompletionMessage[ResponseT]


class ParsedChatCompletion(ChatCompletionResponse, Generic[ResponseT]):
    """A chat completion response whose choices carry ``message.parsed``."""

    choices: list[ParsedChoice[ResponseT]]  # type: ignore[assignment]
