"""EventStreamAsync over the loopback server: the async twins of the important cases."""

from __future__ import annotations

import gc
import json
from typing import Any

import anyio
import httpx
import pytest

from atoma_sdk._runtime.eventstream import EventStreamAsync
from atoma_sdk._runtime.sse import ServerSentEvent
from atoma_sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    PaymentRequiredError,
    StreamTruncatedError,
)

from .conftest import Conn, Route, Server

pytestmark = pytest.mark.anyio

WAIT = 10.0


def as_json(event: ServerSentEvent) -> Any:
    return json.loads(event.data)


def ev(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def gone(route: Route) -> bool:
    return await anyio.to_thread.run_sync(route.gone.wait, WAIT)


async def open_stream(client: httpx.AsyncClient, route: Route, **kwargs: Any) -> EventStreamAsync[Any]:
    response = await client.send(client.build_request("GET", route.url), stream=True)
    return EventStreamAsync(response, kwargs.pop("decode", as_json), **kwargs)


def endless(conn: Conn) -> None:
    conn.headers()
    conn.send(ev({"n": 1}))
    conn.keep_alive()


async def test_items_sentinel_and_on_eof(server: Server) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(b": keep-alive\n\n" + ev({"n": 1}) + b'data: {"n":')
        conn.send(b" 2}\n\ndata: [DONE]\n\n")
        conn.keep_alive()

    route = server.route(handler)
    eofs: list[bool] = []
    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, route, sentinel="[DONE]", on_eof=lambda: eofs.append(True))
        assert [item["n"] async for item in stream] == [1, 2]
        assert eofs == [True]
        assert stream.response.is_closed
        assert await gone(route)
        assert [item async for item in stream] == []


async def test_on_eof_may_raise(server: Server) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}))
        conn.end()

    def truncated() -> None:
        raise StreamTruncatedError("stream ended early")

    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, server.route(handler), on_eof=truncated)
        with pytest.raises(StreamTruncatedError):
            async for _item in stream:
                pass
        assert stream.response.is_closed


async def test_error_event(server: Server) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}) + ev({"error": {"code": "BALANCE_ERROR", "message": "no funds"}}))
        conn.keep_alive()

    route = server.route(handler)
    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, route)
        assert await stream.__anext__() == {"n": 1}
        with pytest.raises(PaymentRequiredError) as info:
            await stream.__anext__()
        assert info.value.status_code == 402
        assert info.value.code == "BALANCE_ERROR"
        assert stream.response.is_closed
        assert await gone(route)


async def test_idle_timeout(server: Server) -> None:
    route = server.route(endless)
    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, route, idle_timeout=0.2)
        assert await stream.__anext__() == {"n": 1}
        with pytest.raises(APITimeoutError):
            await stream.__anext__()
        assert await gone(route)


async def test_read_timeout(server: Server) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.wait_gone()

    route = server.route(handler)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=0.2)) as client:
        stream = await open_stream(client, route)
        with pytest.raises(APITimeoutError):
            await stream.__anext__()
        assert stream.response.is_closed
    assert await gone(route)


async def test_connection_dropped_mid_stream(server: Server) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}) + b'data: {"n": 2')
        conn.drop()

    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, server.route(handler))
        assert await stream.__anext__() == {"n": 1}
        with pytest.raises(APIConnectionError) as info:
            await stream.__anext__()
        assert not isinstance(info.value, APITimeoutError)
        assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
        assert stream.response.is_closed


async def test_break_inside_async_with_releases(server: Server) -> None:
    route = server.route(endless)
    async with httpx.AsyncClient() as client:
        async with await open_stream(client, route) as stream:
            async for _item in stream:
                break
        assert stream.response.is_closed
        assert await gone(route)
        assert [item async for item in stream] == []


async def test_aclose_is_idempotent_and_works_before_iterating(server: Server) -> None:
    route = server.route(endless)
    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, route)
        await stream.aclose()
        await stream.aclose()
        assert stream.response.is_closed
        assert [item async for item in stream] == []
        assert await gone(route)


async def test_garbage_collection_schedules_release(server: Server) -> None:
    started = server.route(endless)
    unstarted = server.route(endless)
    async with httpx.AsyncClient() as client:
        stream = await open_stream(client, started)
        assert await stream.__anext__() == {"n": 1}
        other = await open_stream(client, unstarted)
        responses = [stream.response, other.response]
        del stream, other
        gc.collect()
        assert await gone(started)
        assert await gone(unstarted)
        assert all(response.is_closed for response in responses)
