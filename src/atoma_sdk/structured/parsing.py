"""Turn a verified chat completion into a :class:`ParsedChatCompletion` (sync, async and streams alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import pydantic

from .. import errors
from .._runtime.serde import describe_validation_error
from .schema import adapter, arguments_model
from .types import ParsedChatCompletion

__all__ = ["parse_completion"]

T = TypeVar("T")


def _parsed(tp: Any, content: Any, completion: Any) -> Any:
    failure: str | None = None
    try:
        return adapter(tp).validate_json(content if isinstance(content, str) else "")
    except pydantic.ValidationError as exc:  # the message names locations and kinds, never values
        failure = (
            f"the answer is not a valid {getattr(tp, '__name__', 'value')}: {describe_validation_error(exc)}"
        )
    raise errors.StructuredOutputError(failure, completion=completion)


def _arguments(tools: Sequence[Any], name: str, text: str, completion: Any) -> Any:
    """The validated arguments of a call to a model or function tool (None for dict tools)."""
    for tool in tools:
        model = tool if isinstance(tool, type) and issubclass(tool, pydantic.BaseModel) else None
        if model is not None and model.__name__ == name:
            return _parsed(model, text, completion)
        if model is None and callable(tool) and getattr(tool, "__name__", None) == name:
            args = _parsed(arguments_model(tool), text, completion)
            return {field: getattr(args, field) for field in type(args).model_fields}
    return None


def parse_completion(completion: Any, tp: type[T], tools: Sequence[Any] = ()) -> ParsedChatCompletion[T]:
    """``completion`` with ``message.parsed`` set on every choice (None on a refusal or tool calls only).

    Raises :class:`~atoma_sdk.errors.LengthFinishReasonError` /
    :class:`~atoma_sdk.errors.ContentFilterFinishReasonError` for a truncated or filtered choice and
    :class:`~atoma_sdk.errors.StructuredOutputError` when the JSON does not validate.
    """
    data = completion.model_dump(mode="json", by_alias=True, exclude_unset=True)
    for choice, raw in zip(completion.choices, data["choices"], strict=True):
        reason = choice.finish_reason
        if reason == "length":
            raise errors.LengthFinishReasonError(
                "the answer hit the token limit before it was complete (raise max_tokens)",
                completion=completion,
            )
        if reason == "content_filter":
            raise errors.ContentFilterFinishReasonError(
                "a content filter stopped the answer", completion=completion
            )
        message = raw["message"]
        content = getattr(choice.message, "content", None)
        refused = isinstance(getattr(choice.message, "refusal", None), str)
        # A refusal, or an answer that only calls tools, has nothing to parse.
        message["parsed"] = None if refused or content is None else _parsed(tp, content, completion)
        for call in message.get("tool_calls") or []:
            function = call["function"]
            function["parsed_arguments"] = _arguments(
                tools, function["name"], function["arguments"], completion
            )
    result: ParsedChatCompletion[T] = ParsedChatCompletion[tp].model_validate(data)  # type: ignore[valid-type]
    result._atoma_receipt = completion._atoma_receipt
    return result
