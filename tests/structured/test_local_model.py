"""The local model's tool calls and JSON answers: deterministic rules, vLLM-shaped streams, 400s."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from atoma_sdk.local import LocalNode
from atoma_sdk.local.model import ModelInputError
from atoma_sdk.local.tool_model import chat_completion, chat_completion_chunks

from .conftest import MODEL

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": "boolean"},
            },
            "required": ["city", "days", "metric"],
            "additionalProperties": False,
        },
    },
}
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
    },
}


def body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def calls(answer: dict[str, Any], choice: int = 0) -> list[tuple[str, dict[str, Any]]]:
    message = answer["choices"][choice]["message"]
    return [
        (c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls", [])
    ]


def test_arguments_spelled_in_the_message_are_used() -> None:
    assert calls(chat_completion(body("get_weather('Oslo', 4, true)", tools=[WEATHER]))) == [
        ("get_weather", {"city": "Oslo", "days": 4, "metric": True})
    ]
    assert calls(chat_completion(body('weather for "Lima", days=9 metric=false', tools=[WEATHER]))) == [
        ("get_weather", {"city": "Lima", "days": 9, "metric": False})
    ]


def test_unspelled_arguments_are_generated_valid_and_deterministic() -> None:
    first = chat_completion(body("anything at all", tools=[WEATHER]))
    again = chat_completion(body("anything at all", tools=[WEATHER]))
    assert calls(first) == calls(again)
    ((name, args),) = calls(first)
    assert name == "get_weather"
    jsonschema.validate(args, WEATHER["function"]["parameters"])  # type: ignore[index]


def test_which_tool_is_called() -> None:
    tools = [WEATHER, ADD]
    assert [n for n, _ in calls(chat_completion(body("nothing named", tools=tools)))] == ["get_weather"]
    assert [n for n, _ in calls(chat_completion(body("add(1, 2) then get_weather", tools=tools)))] == [
        "add",
        "get_weather",
    ]
    single = chat_completion(body("add(1, 2) then get_weather", tools=tools, parallel_tool_calls=False))
    assert [n for n, _ in calls(single)] == ["add"]
    none = chat_completion(body("add(1, 2)", tools=tools, tool_choice="none"))
    assert calls(none) == [] and none["choices"][0]["finish_reason"] == "stop"
    named = {"type": "function", "function": {"name": "add"}}
    assert [n for n, _ in calls(chat_completion(body("get_weather", tools=tools, tool_choice=named)))] == [
        "add"
    ]
    assert calls(chat_completion(body("add(2.5, 1)", tools=tools)))[0][1] == {"a": 2.5, "b": 1.0}


def test_after_a_tool_result_it_answers_with_it() -> None:
    messages = [
        {"role": "user", "content": "add(1, 2)"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
    ]
    answer = chat_completion({"model": MODEL, "messages": messages, "tools": [ADD]})
    assert answer["choices"][0]["message"]["content"] == "The tool said: 3"
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_streamed_tool_calls_are_vllm_shaped_and_counted() -> None:
    chunks = chat_completion_chunks(body("get_weather('Oslo', 4, true)", tools=[WEATHER]))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    first = deltas[1]["tool_calls"][0]
    assert (
        first["id"].startswith("call_")
        and first["type"] == "function"
        and first["function"]["name"] == "get_weather"
    )
    pieces = [d["tool_calls"][0] for d in deltas[2:] if "tool_calls" in d]
    assert len(pieces) > 2 and all("id" not in p and p["index"] == 0 for p in pieces)
    joined = "".join(p["function"]["arguments"] for p in pieces)
    assert json.loads(joined) == {"city": "Oslo", "days": 4, "metric": True}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    counted = sum(1 for d in deltas if d.get("content") or d.get("tool_calls"))
    assert chunks[-1]["usage"]["completion_tokens"] == counted
    whole = chat_completion(body("get_weather('Oslo', 4, true)", tools=[WEATHER]))
    assert whole["usage"]["completion_tokens"] == counted


def test_json_answers_stop_and_limits() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "s": {"type": "string"}},
        "required": ["n", "s"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    text = chat_completion(body("hi", response_format=fmt))["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(text), schema)
    obj = chat_completion(body("hi", response_format={"type": "json_object"}))["choices"][0]["message"][
        "content"
    ]
    assert isinstance(json.loads(obj), dict)
    cut = chat_completion(body("hi", response_format=fmt, stop=['"s"']))["choices"][0]
    assert cut["message"]["content"] == text[: text.index('"s"')] and cut["finish_reason"] == "stop"
    short = chat_completion(body("hi", response_format=fmt, max_tokens=1))["choices"][0]
    assert short["finish_reason"] == "length" and len(short["message"]["content"]) < len(text)


def test_bad_tool_and_schema_requests_are_model_input_errors() -> None:
    bad_tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "string", "pattern": "x"}},
    }
    with pytest.raises(ModelInputError, match=r"tool 'f'.*pattern"):
        chat_completion(body("f", tools=[bad_tool]))
    with pytest.raises(ModelInputError, match="unknown tool"):
        chat_completion(body("f", tools=[ADD], tool_choice={"type": "function", "function": {"name": "g"}}))


def test_the_node_answers_400_with_the_reason(node: LocalNode) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "not": {}}}}
    response = httpx.post(
        f"{node.url}/v1/chat/completions",
        json=body("hi", response_format=bad),
        headers={"authorization": f"Bearer {node.api_key}"},
        timeout=20,
    )
    assert response.status_code == 400
    assert "unsupported JSON Schema keyword(s): not" in response.text
