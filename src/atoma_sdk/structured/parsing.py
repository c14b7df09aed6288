"""Turn a verified chat completion into a :class:`ParsedChatCompletion` (sync, async and streams alike)."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from .. import errors
from .._runtime.serde import describe_validation_error
from .schema import adapter
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


def parse_completion(completion: Any, tp: type[T]) -> ParsedChatCompletion[T]:
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
    result: ParsedChatCompletion[T] = ParsedChatCompletion[tp].model_validate(data)  # type: ignore[valid-type]
    result._atoma_receipt = completion._atoma_receipt
    return result
