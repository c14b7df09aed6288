"""Streaming operations: typed items, Accept header, retries only while opening, never after bytes flowed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.operation import RequestOptions

from .conftest import PARAMS, SDK, STREAM, Chunk, no_wait, reply, sse

MakeSDK = Any


def events(n: int) -> list[str]:
    return [json.dumps({"id": "c", "delta": str(i)}) for i in range(n)]


def test_stream_yields_typed_items_until_sentinel(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(sse([*events(3), "[DONE]"]))
    with sdk._runtime.stream(STREAM, PARAMS) as stream:
        items = list(stream)
    assert items == [Chunk(id="c", delta="0"), Chunk(id="c", delta="1"), Chunk(id="c", delta="2")]
    assert server.seen[0].headers["accept"] == "text/event-stream"


def test_stream_open_is_retried_on_status(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    server.push(reply(503, {}, {"Retry-After": "1"}), sse([*events(1), "[DONE]"]))
    with sdk._runtime.stream(STREAM, PARAMS) as stream:
        assert [c.delta for c in stream] == ["0"]
    assert sleeps.delays == [1.0] and len(server.seen) == 2


def test_stream_open_error_is_typed(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    body = {"error": {"code": "AUTH_ERROR", "message": "who are you"}}
    server.push(reply(401, body, {"x-request-id": "s1"}))
    with pytest.raises(errors.AuthenticationError) as info:
        sdk._runtime.stream(STREAM, PARAMS)
    assert info.value.request_id == "s1" and "who are you" in str(info.value)


def test_drop_mid_stream_is_never_retried(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    server.push(sse(events(2), drop=True))
    got: list[str] = []
    with pytest.raises(errors.APIConnectionError), sdk._runtime.stream(STREAM, PARAMS) as stream:
        for chunk in stream:
            got.append(chunk.delta)
    assert got == ["0", "1"] and len(server.seen) == 1 and sleeps.delays == []


def test_stream_item_schema_mismatch(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(sse(['{"id": 5}', "[DONE]"]))
    with pytest.raises(errors.ResponseValidationError, match="delta: missing"), \
            sdk._runtime.stream(STREAM, PARAMS) as stream:
        list(stream)


def test_stream_read_timeout_is_the_idle_timeout(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk(stream_idle_timeout_ms=7_000)
    seen: list[Any] = []

    class Peek:
        def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
            seen.append(request.extensions["timeout"])
            return request

    sdk.hooks.register_before_request_hook(Peek())
    server.push(sse(["[DONE]"]))
    with sdk._runtime.stream(STREAM, PARAMS, RequestOptions(timeout_ms=1_000)) as stream:
        list(stream)
    server.push(sse(["[DONE]"]))
    with sdk._runtime.stream(STREAM, PARAMS) as stream:
        list(stream)
    assert seen[0] == {"connect": 1.0, "read": 7.0, "write": 1.0, "pool": 1.0}
    assert seen[1] == {"connect": 5.0, "read": 7.0, "write": 600.0, "pool": 600.0}


@pytest.mark.anyio
async def test_async_stream(server: Any) -> None:
    async with SDK(server_url=server.url) as sdk:
        sleeps = no_wait(sdk)
        server.push(reply(429, {}), sse([*events(2), "[DONE]"]))
        stream = await sdk._runtime.stream_async(STREAM, PARAMS)
        async with stream:
            items = [c.delta async for c in stream]
    assert items == ["0", "1"] and len(sleeps.delays) == 1


@pytest.mark.anyio
async def test_async_drop_mid_stream_is_never_retried(server: Any) -> None:
    async with SDK(server_url=server.url) as sdk:
        sleeps = no_wait(sdk)
        server.push(sse(events(1), drop=True))
        stream = await sdk._runtime.stream_async(STREAM, PARAMS)
        with pytest.raises(errors.APIConnectionError):
            async with stream:
                async for _ in stream:
                    pass
    assert len(server.seen) == 1 and sleeps.delays == []
