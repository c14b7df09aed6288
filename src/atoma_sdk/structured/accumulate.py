"""Accumulate streamed chat chunks into the complete response: every choice, tool calls, usage."""

from __future__ import annotations

from collections.abc import Callable
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
        if usage is not None and hasattr(usage, "model_dump"):
            self._usage = usage
        accs = self._choices
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            index = int(choice.index)
            acc = accs.get(index)
            if acc is None:
                acc = accs[index] = {"index": index, "texts": {}, "finish_reason": None, "logprobs": None}
            get = _getter(delta)
            content, refusal, reasoning = get("content"), get("refusal"), get("reasoning_content")
            if isinstance(content, str):  # the usual chunk: only content
                texts: dict[str, list[str]] = acc["texts"]
                parts = texts.get("content")
                if parts is None:
                    texts["content"] = [content]
                else:
                    parts.append(content)
            if isinstance(refusal, str):
                _append(acc["texts"], "refusal", refusal)
            if isinstance(reasoning, str):
                _append(acc["texts"], "reasoning_content", reasoning)
            calls = get("tool_calls")
            if isinstance(calls, list) and calls:
                self._add_calls(index, calls)
            reason = getattr(choice, "finish_reason", None)
            if isinstance(reason, str):
                acc["finish_reason"] = reason

    def _add_calls(self, index: int, calls: list[Any]) -> None:
        for call in calls:
            slot = self._calls.setdefault(index, {}).setdefault(
                int(call.index), {"id": "", "type": "function", "name": [], "arguments": []}
            )
            if _text(getattr(call, "id", None)):
                slot["id"] = call.id
            if _text(getattr(call, "type", None)):
                slot["type"] = call.type
            function = getattr(call, "function", None)
            slot["name"].append(_text(getattr(function, "name", None)) or "")
            slot["arguments"].append(_text(getattr(function, "arguments", None)) or "")

    def data(self) -> dict[str, Any]:
        """The accumulated ``chat.completion`` as JSON data."""
        choices = []
        for index in sorted(self._choices):
            acc = self._choices[index]
            message: dict[str, Any] = {"role": "assistant", "content": None}
            message.update({key: "".join(parts) for key, parts in acc["texts"].items()})
            calls = self._calls.get(index, {})
            if calls:
                message["tool_calls"] = [
                    {
                        "id": calls[i]["id"],
                        "type": calls[i]["type"],
                        "function": {
                            "name": "".join(calls[i]["name"]),
                            "arguments": "".join(calls[i]["arguments"]),
                        },
                    }
                    for i in sorted(calls)
                ]
            choices.append(
                {"index": index, "message": message, "finish_reason": acc["finish_reason"], "logprobs": None}
            )
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


def _append(texts: dict[str, list[str]], key: str, piece: str) -> None:
    parts = texts.get(key)
    if parts is None:
        texts[key] = [piece]
    else:
        parts.append(piece)


def _getter(delta: Any) -> Callable[[str], Any]:
    """Reads a delta's fields and extra keys by name (None when absent), without pydantic's slow path for a
    name the model does not define (``getattr`` of a missing attribute costs ~3 us)."""
    if hasattr(type(delta), "__pydantic_fields__"):
        extra = delta.__pydantic_extra__
        values: dict[str, Any] = delta.__dict__
        return ({**extra, **values} if extra else values).get
    return lambda key: getattr(delta, key, None)
