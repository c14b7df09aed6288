"""Request bodies of the generated models: the one-call JSON encoding sends what the validated dump sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk import errors
from atoma_sdk._runtime.serde import encode_request
from atoma_sdk.types import UNSET


def _reference_body(model_name: str, params: dict[str, Any]) -> Any:
    """The encoding before the one-call path: validate, dump, drop the None of non-nullable fields."""
    from atoma_sdk._runtime.serde import _drop_non_nullable_none, _strip_unset, resolve

    model = resolve(model_name)
    instance = model.model_validate(_strip_unset(params))
    data = instance.model_dump(mode="json", by_alias=True, exclude_unset=True)
    _drop_non_nullable_none(instance, data)
    return data


_TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant"]), "content": _TEXT},
    optional={"name": st.none() | _TEXT},
)
_OPTIONAL = {
    "function_call": st.none() | st.just(UNSET) | st.just("auto"),
    "temperature": st.none() | st.just(UNSET) | st.floats(0, 2) | st.integers(0, 2),
    "max_tokens": st.none() | st.just(UNSET) | st.integers(1, 10_000),
    "user": st.none() | st.just(UNSET) | _TEXT,
    "stop": st.none() | st.just(UNSET) | st.lists(_TEXT, max_size=3),
    "stream": st.just(UNSET) | st.booleans() | st.none(),
}


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(_MESSAGE, min_size=1, max_size=3),
    model=_TEXT,
    optional=st.fixed_dictionaries({}, optional=_OPTIONAL),
)
def test_one_call_encoding_sends_what_the_dump_sent(
    messages: list[dict[str, Any]], model: str, optional: dict[str, Any]
) -> None:
    params = {"messages": messages, "model": model, **optional}
    body = encode_request("ChatCompletionRequest", params)
    assert body is not None
    assert json.loads(body) == _reference_body("ChatCompletionRequest", params)


def test_function_call_none_is_not_sent() -> None:
    # The generated signature defaults ``function_call`` to None (an untyped field, not nullable).
    body = encode_request(
        "ChatCompletionRequest",
        {"messages": [{"role": "user", "content": "hi"}], "model": "m", "function_call": None},
    )
    assert body == b'{"messages":[{"content":"hi","role":"user"}],"model":"m"}'


def test_non_finite_request_floats_are_refused() -> None:
    with pytest.raises(errors.RequestValidationError, match=r"cannot be serialised|not JSON"):
        encode_request(
            "ChatCompletionRequest",
            {"messages": [{"role": "user", "content": "hi"}], "model": "m", "temperature": float("inf")},
        )
