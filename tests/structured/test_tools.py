"""Tools from types, streamed tool calls accumulated into get_final_completion(), and run_tools()."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy, errors, models
from atoma_sdk.local import LocalNode
from atoma_sdk.structured import function_tool, pydantic_function_tool
from atoma_sdk.utils import RetryConfig

from .conftest import MODEL


def get_weather(city: str, days: int) -> str:
    """The forecast for a city."""
    return f"sunny in {city} for {days} days"


def add(a: int, b: int = 1) -> int:
    """Add two integers."""
    return a + b


class Lookup(pydantic.BaseModel):
    """Look a word up."""

    word: str
    limit: int


def test_tools_from_functions_and_models_are_strict_only_when_all_required() -> None:
    weather = function_tool(get_weather)["function"]
    assert weather["strict"] is True and weather["description"] == "The forecast for a city."
    assert weather["parameters"]["required"] == ["city", "days"]
    assert weather["parameters"]["additionalProperties"] is False
    optional = function_tool(add)["function"]
    assert optional["strict"] is False and optional["parameters"]["required"] == ["a"]
    lookup = pydantic_function_tool(Lookup)["function"]
    assert lookup["name"] == "Lookup" and lookup["strict"] is True


def test_confidential_tool_call_reads_arguments_from_the_message(sdk: AtomaSDK) -> None:
    ask = [{"role": "user", "content": 'Call get_weather("Oslo", 3) please'}]
    result = sdk.confidential_chat.parse(
        messages=ask, model=MODEL, response_format=Lookup, tools=[get_weather, Lookup]
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]
    assert json.loads(calls[0].function.arguments) == {"city": "Oslo", "days": 3}
    assert calls[0].function.parsed_arguments == {"city": "Oslo", "days": 3}
    looked = sdk.confidential_chat.parse(
        messages=[{"role": "user", "content": 'Lookup("atoma", 2)'}],
        model=MODEL,
        response_format=Lookup,
        tools=[get_weather, Lookup],
    )
    (call,) = looked.choices[0].message.tool_calls or []
    assert call.function.parsed_arguments == Lookup(word="atoma", limit=2)


def test_stream_accumulates_tool_calls_choices_and_usage(sdk: AtomaSDK) -> None:
    ask = [{"role": "user", "content": "Use add(a=2, b=5) and Lookup"}]
    tools: list[Any] = [function_tool(add), pydantic_function_tool(Lookup)]
    whole = sdk.confidential_chat.create(messages=ask, model=MODEL, tools=tools, n=2)
    stream = sdk.confidential_chat.create_stream(messages=ask, model=MODEL, tools=tools, n=2)
    final = stream.get_final_completion()
    assert isinstance(final, models.ChatCompletionResponse)
    assert len(final.choices) == 2
    for streamed, plain in zip(final.choices, whole.choices, strict=True):
        assert streamed.finish_reason == plain.finish_reason == "tool_calls"
        got = [(c.function.name, c.function.arguments) for c in streamed.message.tool_calls or []]
        want = [(c.function.name, c.function.arguments) for c in plain.message.tool_calls or []]
        assert got == want and len(got) == 2
        assert json.loads(got[0][1]) == {"a": 2, "b": 5}
    assert final.usage is not None and whole.usage is not None
    assert final.usage.completion_tokens == whole.usage.completion_tokens
    assert final.receipt is not None and final.receipt.complete


def test_final_message_still_works_and_matches_the_final_completion(sdk: AtomaSDK) -> None:
    ask = [{"role": "user", "content": "Say something"}]
    stream = sdk.confidential_chat.create_stream(messages=ask, model=MODEL, n=2)
    message = stream.final_message()
    final = stream.get_final_completion()
    assert final.choices[0].message.content == message.content
    assert len(final.choices) == 2 and final.choices[1].finish_reason == "stop"


def test_run_tools_runs_verified_calls_and_answers(sdk: AtomaSDK) -> None:
    seen: list[tuple[str, int]] = []

    def get_weather(city: str, days: int) -> str:
        seen.append((city, days))
        return f"sunny in {city}"

    ask = [{"role": "user", "content": 'get_weather("Rome", 2)?'}]
    run = sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[get_weather])
    assert seen == [("Rome", 2)]
    assert len(run.turns) == 2 and not run.hit_turn_limit
    assert run.completion.choices[0].message.content == "The tool said: sunny in Rome"
    assert [m["role"] for m in run.messages] == ["user", "assistant", "tool", "assistant"]
    assert all(r is not None and r.signature_verified for r in run.receipts)


def test_run_tools_streaming_sends_chunks_and_waits_for_verification(sdk: AtomaSDK) -> None:
    chunks: list[Any] = []
    ask = [{"role": "user", "content": "add(4, 5)"}]
    run = sdk.confidential_chat.run_tools(
        messages=ask, model=MODEL, tools=[add], stream=True, on_chunk=chunks.append
    )
    assert run.completion.choices[0].message.content == "The tool said: 9"
    assert len(chunks) > 4
    assert all(r.streamed and r.complete for r in run.receipts)


FORCE_ADD: Any = {"type": "function", "function": {"name": "add"}}  # the local model calls it every turn


def test_run_tools_stops_at_the_turn_limit(sdk: AtomaSDK) -> None:
    calls: list[int] = []

    def add(a: int, b: int) -> int:
        calls.append(a)
        return a + b

    ask = [{"role": "user", "content": "add(1, 2)"}]
    run = sdk.confidential_chat.run_tools(
        messages=ask, model=MODEL, tools=[add], tool_choice=FORCE_ADD, max_turns=3
    )
    assert run.hit_turn_limit and len(run.turns) == 3 and len(calls) == 2
    default = sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[add], tool_choice=FORCE_ADD)
    assert len(default.turns) == 10


def test_tool_exceptions_go_back_as_error_results(sdk: AtomaSDK) -> None:
    def get_weather(city: str, days: int) -> str:
        raise RuntimeError("weather service down")

    ask = [{"role": "user", "content": 'get_weather("Rome", 2)'}]
    run = sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[get_weather])
    assert run.messages[2]["content"] == "error: RuntimeError: weather service down"
    with pytest.raises(RuntimeError):
        sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[get_weather], on_tool_error="raise")


def test_run_tools_refuses_a_policy_without_signatures(sdk: AtomaSDK) -> None:
    ran: list[int] = []

    def add(a: int, b: int) -> int:
        ran.append(a)
        return a + b

    policy = VerificationPolicy(verify_signatures=False)
    with pytest.raises(errors.ToolRunnerError, match="signatures"):
        sdk.confidential_chat.run_tools(
            messages=[{"role": "user", "content": "add(1, 2)"}], model=MODEL, tools=[add], verification=policy
        )
    assert ran == []
    assert not hasattr(sdk.chat, "run_tools")  # plaintext chat: a proxy could inject tool calls


@pytest.mark.anyio
async def test_run_tools_async_runs_parallel_calls_concurrently(sdk: AtomaSDK) -> None:
    both_started = asyncio.Event()
    started: list[str] = []

    async def get_weather(city: str, days: int) -> str:
        started.append("weather")
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 30)
        return "rain"

    async def lookup(word: str) -> str:
        started.append("lookup")
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 30)  # deadlocks (times out) unless run concurrently
        return word.upper()

    def add(a: int, b: int) -> int:
        return a + b

    ask = [{"role": "user", "content": 'get_weather("Nice", 1) then lookup("sun")'}]
    run = await sdk.confidential_chat.run_tools_async(
        messages=ask, model=MODEL, tools=[get_weather, lookup, add]
    )
    assert sorted(started) == ["lookup", "weather"]
    assert [m["content"] for m in run.messages if m["role"] == "tool"] == ["rain", "SUN"]
    streamed = await sdk.confidential_chat.run_tools_async(
        messages=[{"role": "user", "content": "add(2, 2)"}], model=MODEL, tools=[add], stream=True
    )
    assert streamed.completion.choices[0].message.content == "The tool said: 4"


def test_sync_run_tools_runs_parallel_calls_in_order(sdk: AtomaSDK) -> None:
    order: list[str] = []
    lock = threading.Lock()

    def get_weather(city: str, days: int) -> str:
        with lock:
            order.append("weather")
        return "rain"

    def add(a: int, b: int) -> int:
        with lock:
            order.append("add")
        return a + b

    ask = [{"role": "user", "content": "add(1, 1) and get_weather"}]
    sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[get_weather, add])
    assert order == ["add", "weather"]


@pytest.fixture
def faulty(node: LocalNode) -> Iterator[LocalNode]:
    node.faults.clear()
    yield node
    node.faults.clear()


def test_no_tool_runs_when_a_streamed_turn_is_truncated(sdk: AtomaSDK, faulty: LocalNode) -> None:
    ran: list[int] = []

    def add(a: int, b: int) -> int:
        ran.append(a)
        return a + b

    faulty.faults.truncate_after(4, route="/v1/confidential/chat/completions")
    with pytest.raises(errors.StreamTruncatedError):
        sdk.confidential_chat.run_tools(
            messages=[{"role": "user", "content": "add(1, 2)"}],
            model=MODEL,
            tools=[add],
            stream=True,
            retries=RetryConfig("none"),
        )
    assert ran == []


def test_no_tool_runs_when_an_answer_is_tampered(sdk: AtomaSDK, faulty: LocalNode) -> None:
    ran: list[int] = []

    def add(a: int, b: int) -> int:
        ran.append(a)
        return a + b

    faulty.faults.corrupt_chunk(route="/v1/confidential/chat/completions")
    with pytest.raises(errors.IntegrityError):
        sdk.confidential_chat.run_tools(
            messages=[{"role": "user", "content": "add(1, 2)"}],
            model=MODEL,
            tools=[add],
            retries=RetryConfig("none"),
        )
    assert ran == []


def test_tool_calls_of_an_unverified_answer_are_refused() -> None:
    # No server produces this under a policy run_tools accepts; the check is a second line of defence.
    from atoma_sdk.confidential.receipt import Receipt
    from atoma_sdk.structured.runner import verified_calls

    answer = models.ChatCompletionResponse.model_validate(
        {
            "id": "x",
            "created": 0,
            "model": "m",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "type": "function", "function": {"name": "add", "arguments": "{}"}}
                        ],
                    },
                }
            ],
        }
    )
    with pytest.raises(errors.ToolRunnerError):
        verified_calls(answer)
    answer._atoma_receipt = Receipt("chat", "m", response_hash_verified=True, signature_verified=False)
    with pytest.raises(errors.ToolRunnerError):
        verified_calls(answer)
    answer._atoma_receipt = Receipt(
        "chat", "m", response_hash_verified=True, signature_verified=True, streamed=True, complete=False
    )
    with pytest.raises(errors.ToolRunnerError, match="complete"):
        verified_calls(answer)
    answer._atoma_receipt = Receipt("chat", "m", response_hash_verified=True, signature_verified=True)
    assert len(verified_calls(answer)) == 1


def test_plain_chat_stream_ends_with_the_final_completion(sdk: AtomaSDK) -> None:
    ask = [{"role": "user", "content": "add(a=2, b=5)"}]
    with sdk.chat.stream(messages=ask, model=MODEL, tools=[add], n=2) as stream:
        chunks = list(stream)
        final = stream.get_final_completion()
    whole = sdk.chat.create(messages=ask, model=MODEL, tools=[function_tool(add)], n=2)
    assert len(chunks) > 4 and final.receipt is None
    assert [c.finish_reason for c in final.choices] == ["tool_calls", "tool_calls"]
    got = [(c.function.name, c.function.arguments) for c in final.choices[1].message.tool_calls or []]
    want = [(c.function.name, c.function.arguments) for c in whole.choices[1].message.tool_calls or []]
    assert got == want == [("add", '{"a": 2, "b": 5}')]
    assert final.usage is not None and whole.usage is not None
    assert final.usage.completion_tokens == whole.usage.completion_tokens


@pytest.mark.anyio
async def test_confidential_stream_async_ends_with_the_final_completion(sdk: AtomaSDK) -> None:
    ask = [{"role": "user", "content": "add(a=2, b=5)"}]
    stream = await sdk.confidential_chat.stream_async(messages=ask, model=MODEL, tools=[add])
    async with stream:
        final = await stream.get_final_completion()
    assert final.receipt is not None and final.receipt.complete
    assert (final.choices[0].message.tool_calls or [])[0].function.arguments == '{"a": 2, "b": 5}'
    raw = await sdk.confidential_chat.create_stream_async(messages=ask, model=MODEL)
    again = await raw.get_final_completion()
    assert again.choices[0].finish_reason == "stop" and again.usage is not None


def test_run_tools_streams_in_buffer_mode_too(sdk: AtomaSDK) -> None:
    policy = VerificationPolicy(nonce_reuse="buffer")  # the stream is served from a verified whole answer
    run = sdk.confidential_chat.run_tools(
        messages=[{"role": "user", "content": "add(1, 2)"}],
        model=MODEL,
        tools=[add],
        stream=True,
        verification=policy,
    )
    assert run.completion.choices[0].message.content == "The tool said: 3"
    assert run.receipts[0].stream_mode == "buffer"


def test_run_tools_takes_message_models_and_checks_max_turns(sdk: AtomaSDK) -> None:
    ask = [models.ChatCompletionMessageUser(role="user", content="add(3, 4)")]
    run = sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[add])
    assert run.messages[0] == {"role": "user", "content": "add(3, 4)"}
    assert run.completion.choices[0].message.content == "The tool said: 7"
    with pytest.raises(ValueError, match="max_turns"):
        sdk.confidential_chat.run_tools(messages=ask, model=MODEL, tools=[add], max_turns=0)
