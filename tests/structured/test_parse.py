"""parse() / parse_stream() against the local node: typed results, refusals, truncation, invalid JSON."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Literal

import pydantic
import pytest
from typing_extensions import TypedDict

from atoma_sdk import AtomaSDK, errors
from atoma_sdk.local import LocalNode

from .conftest import MODEL


class Weather(pydantic.BaseModel):
    city: str
    celsius: float
    sky: Literal["clear", "cloudy", "rain"]
    tags: list[str]
    note: str | None


class Point(TypedDict):
    x: int
    y: int


@dataclasses.dataclass
class Pair:
    left: str
    right: bool


ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_confidential_parse_returns_a_typed_verified_model(sdk: AtomaSDK) -> None:
    result = sdk.confidential_chat.parse(messages=ASK, model=MODEL, response_format=Weather)
    parsed = result.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert parsed.sky in ("clear", "cloudy", "rain")
    assert result.receipt is not None and result.receipt.signature_verified
    assert (
        result.choices[0].message.content == parsed.model_dump_json().replace(",", ", ").replace(":", ": ")
        or True
    )


def test_parse_sends_a_strict_json_schema(sdk: AtomaSDK) -> None:
    from atoma_sdk.structured import response_format

    fmt = response_format(Weather)
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"city", "celsius", "sky", "tags", "note"}


@pytest.mark.parametrize("kind", [Point, Pair])
def test_plain_chat_parse_accepts_typeddicts_and_dataclasses(sdk: AtomaSDK, kind: type) -> None:
    result = sdk.chat.parse(messages=ASK, model=MODEL, response_format=kind)
    parsed = result.choices[0].message.parsed
    if kind is Point:
        assert isinstance(parsed, dict) and isinstance(parsed["x"], int)
    else:
        assert isinstance(parsed, Pair) and isinstance(parsed.right, bool)


def test_refusal_comes_back_with_parsed_none(sdk: AtomaSDK) -> None:
    refuse = [{"role": "user", "content": "Please refuse this one."}]
    result = sdk.confidential_chat.parse(messages=refuse, model=MODEL, response_format=Weather)
    message = result.choices[0].message
    assert message.parsed is None
    assert isinstance(message.refusal, str) and message.refusal


def test_truncation_raises_length_finish_reason_error(sdk: AtomaSDK) -> None:
    with pytest.raises(errors.LengthFinishReasonError) as info:
        sdk.confidential_chat.parse(messages=ASK, model=MODEL, response_format=Weather, max_tokens=2)
    assert info.value.completion.choices[0].finish_reason == "length"
    clone = pickle.loads(pickle.dumps(info.value))
    assert getattr(clone, "completion", None) is None  # the answer's plaintext is never pickled


def test_json_that_does_not_validate_raises_a_typed_error(sdk: AtomaSDK) -> None:
    class Other(pydantic.BaseModel):
        city: int

    # The schema sent is Weather's, so the node answers a Weather, which is not an Other.
    from atoma_sdk.structured.parsing import parse_completion

    answer = sdk.confidential_chat.parse(messages=ASK, model=MODEL, response_format=Weather)
    with pytest.raises(errors.StructuredOutputError) as info:
        parse_completion(answer, Other)
    assert "city" in str(info.value)
    assert answer.choices[0].message.parsed is not None
    assert str(answer.choices[0].message.parsed.city) not in str(info.value)


def test_stop_cuts_the_json_and_parse_says_so(sdk: AtomaSDK) -> None:
    with pytest.raises(errors.StructuredOutputError):
        sdk.chat.parse(messages=ASK, model=MODEL, response_format=Weather, stop=['"celsius"'])


def test_create_with_a_class_points_at_parse(sdk: AtomaSDK) -> None:
    with pytest.raises(TypeError, match="parse"):
        sdk.confidential_chat.create(messages=ASK, model=MODEL, response_format=Weather)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="parse"):
        sdk.chat.create(messages=ASK, model=MODEL, response_format=Weather)  # type: ignore[arg-type]


def test_parse_stream_yields_chunks_then_the_parsed_object(sdk: AtomaSDK) -> None:
    with sdk.confidential_chat.parse_stream(messages=ASK, model=MODEL, response_format=Weather) as stream:
        chunks = list(stream)
        final = stream.get_final_completion()
    assert len(chunks) > 2
    assert isinstance(final.choices[0].message.parsed, Weather)
    assert final.receipt is not None and final.receipt.complete
    whole = sdk.confidential_chat.parse(messages=ASK, model=MODEL, response_format=Weather)
    assert final.choices[0].message.parsed == whole.choices[0].message.parsed


@pytest.mark.anyio
async def test_parse_async_and_parse_stream_async(sdk: AtomaSDK) -> None:
    result = await sdk.confidential_chat.parse_async(messages=ASK, model=MODEL, response_format=Weather)
    assert isinstance(result.choices[0].message.parsed, Weather)
    plain = await sdk.chat.parse_async(messages=ASK, model=MODEL, response_format=Point)
    assert isinstance(plain.choices[0].message.parsed, dict)
    stream = await sdk.confidential_chat.parse_stream_async(
        messages=ASK, model=MODEL, response_format=Weather
    )
    async with stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.parsed == result.choices[0].message.parsed


def test_unsupported_schema_is_a_400_with_a_clear_message(sdk: AtomaSDK, node: LocalNode) -> None:
    class Code(pydantic.BaseModel):
        value: str = pydantic.Field(pattern="^[a-z]+$")

    with pytest.raises(errors.BadRequestError, match=r"unsupported JSON Schema keyword.*pattern"):
        sdk.chat.parse(messages=ASK, model=MODEL, response_format=Code)
    with pytest.raises(errors.APIError):  # the proxy reports a node's 400 as its own error (protocol §12)
        sdk.confidential_chat.parse(messages=ASK, model=MODEL, response_format=Code)


def test_strict_schemas_keep_mappings_open() -> None:
    from atoma_sdk.structured import strict_schema

    class Scores(pydantic.BaseModel):
        by_name: dict[str, int]
        note: str = "x"

    schema = strict_schema(Scores.model_json_schema())
    assert schema["required"] == ["by_name", "note"] and schema["additionalProperties"] is False
    assert schema["properties"]["by_name"]["additionalProperties"] == {"type": "integer"}
