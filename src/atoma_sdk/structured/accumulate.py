"""Accumulate streamed chat chunks into the complete response: every choice, tool calls, usage."""

from __future__ import annotations

from typing import Any

__all__ = ["ChunkAccumulator"]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class ChunkAccumulator:
    """Fed every chunk of a chat stream (``ChatCompletionStreamResponse`` items); builds the final object."""

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._calls: dict[int, dict[int, dict[str, Any]]] = {}
        self._usage: Any = None

    def add(self, item: Any) -> None:
        chunk = getattr(item, "data", item)
        if not self._head:
            self._head = {"id": chunk.id, "created": chunk.created, "model": chunk.model}
        usage = getattr(chunk, "usage", None)
        if hasattr(usage, "model_dump"):
            self._usage = usage
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            self._add_choice(int(choice.index), choice, delta)

    def _add_choice(self, index: int, choice: Any, delta: Any) -> None:
        acc = self._choices.setdefault(
            index, {"index": index, "message": {"role": "assistant"}, "finish_reason": None, "logprobs": None}
        )
        message = acc["message"]
        for key in ("content", "refusal", "reasoning_content"):
            piece = _text(getattr(delta, key, None))
            if piece is not None:
                message[key] = message.get(key, "") + piece
        for call in _text_list(getattr(delta, "tool_calls", None)):
            slot = self._calls.setdefault(index, {}).setdefault(
                int(call.index), {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
            if _text(getattr(call, "id", None)):
                slot["id"] = call.id
            if _text(getattr(call, "type", None)):
                slot["type"] = call.type
            function = getattr(call, "function", None)
            slot["function"]["name"] += _text(getattr(function, "name", None)) or ""
            slot["function"]["arguments"] += _text(getattr(function, "arguments", None)) or ""
        reason = _text(getattr(choice, "finish_reason", None))
        if reason is not None:
            acc["finish_reason"] = reason

    def data(self) -> dict[str, Any]:
        """The accumulated ``chat.completion`` as JSON data."""
        choices = []
        for index in sorted(self._choices):
            choice = dict(self._choices[index])
            message = dict(choice["message"])
            message.setdefault("content", None)
            calls = self._calls.get(index)
            if calls:
                message["tool_calls"] = [calls[i] for i in sorted(calls)]
            choice["message"] = message
            choices.append(choice)
        usage = (
            self._usage.model_dump(mode="json", by_alias=True, exclude_unset=True) if self._usage else None
        )
        head = self._head or {"id": "", "created": 0, "model": ""}
        return {**head, "object": "chat.completion", "choices": choices, "usage": usage}

    def completion(self, receipt: Any = None, usage: Any = None) -> Any:
        """The accumulated ``ChatCompletionResponse`` (with ``receipt`` attached when given).

        ``usage``: the stream's usage when its usage chunk was not yielded (confidential streams).
        """
        from .._runtime.serde import resolve

        if usage is not None and self._usage is None:
            self._usage = usage
        result = resolve("ChatCompletionResponse").model_validate(self.data())
        if receipt is not None:
            result._atoma_receipt = receipt
        return result


def _text_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
