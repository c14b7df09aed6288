"""Every generated operation against a recording loopback server: method, path, headers, body, decoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from gen import spec
from gen.emit_docs import example_value

from atoma_sdk import errors, models
from atoma_sdk.sdk import AtomaSDK
from atoma_sdk.types import UNSET
from atoma_sdk.utils import RetryConfig

from .conftest import Recorder, reply, sse

NO_RETRY = RetryConfig("none")
TOKEN = "tok-secret"


def operations(api: spec.Api) -> list[tuple[spec.Resource, spec.Operation]]:
    return [(r, op) for r in api.resources for op in r.operations]


def op_id(item: tuple[spec.Resource, spec.Operation]) -> str:
    return item[1].operation_id


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        from .conftest import REPO

        cases = operations(spec.load(REPO))
        metafunc.parametrize("case", cases, ids=[op_id(c) for c in cases])


@pytest.fixture
def sdk(server: Recorder) -> Iterator[AtomaSDK]:
    client = AtomaSDK(bearer_auth=TOKEN, server_url=server.url)
    delays: list[float] = []
    client._runtime.sleep = delays.append  # record retry delays instead of sleeping
    client.delays = delays  # type: ignore[attr-defined]
    with client:
        yield client


def call_args(api: spec.Api, op: spec.Operation) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments for the required parameters, and the JSON body they must produce."""
    kwargs = {
        p.name: example_value(api, p.field.type, p.field.example) for p in op.params if p.field.required
    }
    body = {p.field.wire: kwargs[p.name] for p in op.params if p.field.required}
    body.update(dict(op.fixed))
    return kwargs, body


def canned(api: spec.Api, op: spec.Operation, *, done: bool = True) -> Any:
    assert op.response is not None
    if op.stream:
        envelope = api.models[op.response].envelope
        assert envelope is not None
        item_type = next(f.type for f in api.models[op.response].fields if f.wire == envelope)
        item = example_value(api, item_type)
        return sse([item, item], done=done), item
    body = example_value(api, spec.Type("ref", op.response))
    return reply(200, body), body


def method(sdk: AtomaSDK, res: spec.Resource, op: spec.Operation, *, is_async: bool = False) -> Any:
    return getattr(getattr(sdk, res.module), op.method_name + ("_async" if is_async else ""))


def check_request(server: Recorder, op: spec.Operation, body: dict[str, Any] | None) -> None:
    assert len(server.seen) == 1
    seen = server.seen[0]
    assert seen.method == op.http_method
    assert seen.path == op.path
    if op.security:
        assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    else:
        assert "authorization" not in seen.headers
    if body is None:
        assert seen.body == b""
    else:
        assert seen.headers["content-type"].startswith("application/json")
        assert seen.json() == body
    if op.stream:
        assert seen.headers["accept"] == "text/event-stream"


def check_result(api: spec.Api, op: spec.Operation, result: Any, sent: Any) -> None:
    assert op.response is not None
    expected = getattr(models, op.response)
    if op.stream:
        items = list(result)
        assert len(items) == 2
        for item in items:
            assert isinstance(item, expected)
            assert item.data.model_dump(mode="json", by_alias=True, exclude_unset=True) == sent
    else:
        assert isinstance(result, expected)
        assert result.model_dump(mode="json", by_alias=True, exclude_unset=True) == sent


def test_every_operation_sync(api: spec.Api, server: Recorder, sdk: AtomaSDK, case: Any) -> None:
    res, op = case
    kwargs, body = call_args(api, op)
    response, sent = canned(api, op)
    server.push(response)
    result = method(sdk, res, op)(**kwargs)
    if op.stream:
        with result:
            check_result(api, op, result, sent)
    else:
        check_result(api, op, result, sent)
    check_request(server, op, body if op.request else None)


@pytest.mark.anyio
async def test_every_operation_async(api: spec.Api, server: Recorder, sdk: AtomaSDK, case: Any) -> None:
    res, op = case
    kwargs, body = call_args(api, op)
    response, sent = canned(api, op, done=False)
    server.push(response)
    result = await method(sdk, res, op, is_async=True)(**kwargs)
    if op.stream:
        items = [item async for item in result]
        assert [i.data.model_dump(mode="json", by_alias=True, exclude_unset=True) for i in items] == [
            sent,
            sent,
        ]
    else:
        check_result(api, op, result, sent)
    check_request(server, op, body if op.request else None)


def test_every_documented_error_status(api: spec.Api, server: Recorder, sdk: AtomaSDK, case: Any) -> None:
    res, op = case
    kwargs, _ = call_args(api, op)
    assert op.errors, "every operation documents at least one error status"
    for status, _description in op.errors:
        server.push(reply(int(status), {"error": {"code": "E", "message": "nope"}}, {"x-request-id": "rq"}))
        expected = type(errors.error_for_status(int(status), b""))
        with pytest.raises(expected) as info:
            method(sdk, res, op)(**kwargs, retries=NO_RETRY)
        assert isinstance(info.value, models.APIError)
        assert info.value.status_code == int(status)
        assert info.value.request_id == "rq"
    assert len(server.seen) == len(op.errors)


CHAT_OK = {
    "id": "c1",
    "created": 1,
    "model": "m",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}


def test_unset_none_and_extra_body(server: Recorder, sdk: AtomaSDK) -> None:
    server.push(reply(200, CHAT_OK))
    result = sdk.chat.create(
        messages=[
            {"role": "user", "content": "hello", "name": None},
            {"role": "tool", "content": "42", "tool_call_id": None},  # type: ignore[typeddict-item]
        ],
        model="m",
        temperature=None,  # nullable: sent as null
        max_tokens=UNSET,  # left out
        function_call=None,  # not nullable: left out
        extra_body={"min_p": 0.05, "guided_json": {"type": "object"}},
        http_headers={"x-trace": "t1"},
    )
    assert result.choices[0].message.content == "hi"
    seen = server.seen[0]
    assert seen.headers["x-trace"] == "t1"
    assert seen.json() == {
        "messages": [{"role": "user", "content": "hello", "name": None}, {"role": "tool", "content": "42"}],
        "model": "m",
        "temperature": None,
        "min_p": 0.05,
        "guided_json": {"type": "object"},
    }
    # Body keys keep the order they were given in; the request is compact JSON.
    assert b": " not in seen.body


def test_stream_with_and_without_done(server: Recorder, sdk: AtomaSDK) -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "x"}}],
    }
    server.push(sse([chunk], done=True), sse([chunk, chunk], done=False))
    with sdk.chat.create_stream(messages=[{"role": "user", "content": "hi"}], model="m") as stream:
        first = [event.data.choices[0].delta.content for event in stream]
    with sdk.chat.create_stream(messages=[{"role": "user", "content": "hi"}], model="m") as stream:
        second = [event.data.id for event in stream]
    assert first == ["x"] and second == ["c", "c"]
    assert [s.json()["stream"] for s in server.seen] == [True, True]


def test_retry_after_on_plaintext_operation(server: Recorder, sdk: AtomaSDK) -> None:
    server.push(reply(429, {"error": "slow down"}, {"Retry-After": "2"}), reply(200, CHAT_OK))
    result = sdk.chat.create(messages=[{"role": "user", "content": "hi"}], model="m")
    assert result.id == "c1"
    assert len(server.seen) == 2 and server.seen[0].body == server.seen[1].body
    assert sdk.delays == [2.0]  # type: ignore[attr-defined]


RAW = {
    "ciphertext": "Y3Q=",
    "client_dh_public_key": "Y2s=",
    "model_name": "m",
    "node_dh_public_key": "bms=",
    "nonce": "bm9uY2U=",
    "plaintext_body_hash": "aA==",
    "salt": "c2FsdA==",
    "stack_small_id": 7,
}


def test_raw_confidential_is_not_retried_after_reaching_the_server(server: Recorder, sdk: AtomaSDK) -> None:
    server.push(
        reply(503, {"error": "busy"}, {"Retry-After": "1"}), reply(200, {"ciphertext": "x", "nonce": "n"})
    )
    with pytest.raises(errors.ServiceUnavailableError):
        sdk.confidential_chat.create(**RAW)
    assert len(server.seen) == 1 and sdk.delays == []  # type: ignore[attr-defined]


def test_raw_confidential_seed_call(server: Recorder, sdk: AtomaSDK) -> None:
    server.push(
        reply(200, {"ciphertext": "x", "nonce": "n", "usage": {"prompt_tokens": 1, "total_tokens": 2}})
    )
    result = sdk.confidential_chat.create(**RAW, num_compute_units=None, stream=None, retries=NO_RETRY)
    assert isinstance(result, models.ConfidentialComputeResponse)
    assert result.usage is not None and result.usage is not UNSET
    assert json.loads(server.seen[0].body) == {**RAW, "num_compute_units": None, "stream": None}


def test_raw_confidential_stream_items_wrap_bare_objects(server: Recorder, sdk: AtomaSDK) -> None:
    bare = {"ciphertext": "x", "nonce": "n", "signature": "s", "response_hash": "h"}
    server.push(sse([bare, bare], done=False))
    with sdk.confidential_chat.create_stream(**RAW) as stream:
        items = list(stream)
    assert all(isinstance(i, models.ConfidentialComputeStreamResponse) for i in items)
    assert [i.data.signature for i in items] == ["s", "s"]
    assert server.seen[0].json()["stream"] is True
