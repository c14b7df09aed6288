"""EventStream over a real loopback server: items, sentinel, error events, timeouts, connection release."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import httpx
import pytest

from atoma_sdk._runtime.eventstream import EventStream
from atoma_sdk._runtime.sse import ServerSentEvent
from atoma_sdk.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    LockedError,
    PaymentRequiredError,
    ResponseValidationError,
    ServiceUnavailableError,
    StreamTruncatedError,
    TooEarlyError,
)

from .conftest import Conn, Route, Server

WAIT = 10.0  # upper bound for the server to notice a disconnect (never reached when things work)


def as_json(event: ServerSentEvent) -> Any:
    return json.loads(event.data)


def ev(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def open_stream(client: httpx.Client, route: Route, **kwargs: Any) -> EventStream[Any]:
    response = client.send(client.build_request("GET", route.url), stream=True)
    return EventStream(response, kwargs.pop("decode", as_json), **kwargs)


def test_items_in_order_across_chunks_and_keep_alives(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(b": keep-alive\n\n" + ev({"n": 1}) + b"data: {\"n\":")
        conn.send(b" 2}\n")
        conn.send(b"\n: keep-alive\n\n" + ev({"n": 3}))
        conn.end()

    route = server.route(handler)
    eofs: list[bool] = []
    stream = open_stream(client, route, on_eof=lambda: eofs.append(True))
    assert [item["n"] for item in stream] == [1, 2, 3]
    assert eofs == [True]
    assert stream.response.is_closed
    assert list(stream) == []


def test_decode_returning_none_skips(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}) + ev({"n": 2, "skip": True}) + ev({"n": 3}))
        conn.end()

    def decode(event: ServerSentEvent) -> Any:
        item = json.loads(event.data)
        return None if item.get("skip") else item

    stream = open_stream(client, server.route(handler), decode=decode)
    assert [item["n"] for item in stream] == [1, 3]


def test_sentinel_stops_closes_and_runs_on_eof(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}) + b"data: [DONE]\n\n" + ev({"n": 2}))
        conn.keep_alive()  # the server would go on; the client must hang up

    route = server.route(handler)
    eofs: list[bool] = []
    stream = open_stream(client, route, sentinel="[DONE]", on_eof=lambda: eofs.append(True))
    assert [item["n"] for item in stream] == [1]
    assert eofs == [True]
    assert stream.response.is_closed
    assert route.gone.wait(WAIT)


def test_on_eof_may_raise(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}))
        conn.end()

    def truncated() -> None:
        raise StreamTruncatedError("stream ended early")

    stream = open_stream(client, server.route(handler), on_eof=truncated)
    assert next(stream) == {"n": 1}
    with pytest.raises(StreamTruncatedError):
        next(stream)
    assert stream.response.is_closed


@pytest.mark.parametrize(
    ("error", "cls", "status"),
    [
        ({"code": "REQUEST_ERROR", "message": "bad"}, BadRequestError, 400),
        ({"code": "BALANCE_ERROR", "message": "no funds"}, PaymentRequiredError, 402),
        ({"code": "LOCKED", "message": "locked"}, LockedError, 423),
        ({"code": "UNAVAILABLE_STACK", "message": "stack"}, TooEarlyError, 425),
        ({"code": "SERVICE_UNAVAILABLE", "message": "busy"}, ServiceUnavailableError, 503),
        ({"code": "SOMETHING_NEW", "message": "?"}, InternalServerError, 500),
        ({"message": "numeric", "code": 429}, APIError, 429),
        ("plain string", InternalServerError, 500),
    ],
)
def test_error_event_raises_typed_error(
    server: Server, client: httpx.Client, error: Any, cls: type[APIError], status: int
) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}) + ev({"error": error}) + ev({"n": 2}))
        conn.keep_alive()

    route = server.route(handler)
    decoded: list[Any] = []
    stream = open_stream(client, route, decode=lambda e: decoded.append(e.data) or json.loads(e.data))
    assert next(stream) == {"n": 1}
    with pytest.raises(cls) as info:
        next(stream)
    assert info.value.status_code == status
    assert info.value.body == {"error": error}
    assert info.value.raw_response is stream.response
    assert len(decoded) == 1  # the error event never reached decode
    assert stream.response.is_closed
    assert route.gone.wait(WAIT)
    assert list(stream) == []


def test_error_detection_tolerates_whitespace_and_ignores_lookalikes(
    server: Server, client: httpx.Client
) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"errors": 1}) + ev({"n": 1, "error": None}) + b'data: {"error": nope\n\n')
        conn.send(b'data:  { "error" : {"code": "AUTH_ERROR", "message": "m"}}\n\n')
        conn.end()

    stream = open_stream(client, server.route(handler), decode=lambda e: e.data)
    assert next(stream) == '{"errors": 1}'
    assert next(stream) == '{"n": 1, "error": null}'
    assert next(stream) == '{"error": nope'  # not JSON: the decode function judges it
    with pytest.raises(APIError) as info:
        next(stream)
    assert info.value.status_code == 401


def test_idle_timeout_while_only_keep_alives_arrive(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}))
        conn.keep_alive()

    route = server.route(handler)
    stream = open_stream(client, route, idle_timeout=0.2)
    assert next(stream) == {"n": 1}
    with pytest.raises(APITimeoutError, match=r"no event for 0\.2 s"):
        next(stream)
    assert stream.response.is_closed
    assert route.gone.wait(WAIT)


def test_idle_timeout_before_the_first_event(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.keep_alive()

    stream = open_stream(client, server.route(handler), idle_timeout=0.2)
    with pytest.raises(APITimeoutError):
        next(stream)


def test_idle_timeout_does_not_count_consumer_time(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}))
        conn.keep_alive(until=route.proceed)
        conn.send(ev({"n": 2}))
        conn.end()

    route = server.route(handler)
    stream = open_stream(client, route, idle_timeout=1.0)
    assert next(stream) == {"n": 1}
    time.sleep(1.2)  # a slow consumer; keep-alives pile up meanwhile
    route.proceed.set()
    assert [item["n"] for item in stream] == [2]


def test_read_timeout_maps_to_api_timeout(server: Server) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.wait_gone()

    route = server.route(handler)
    with httpx.Client(timeout=httpx.Timeout(10.0, read=0.2)) as client:
        stream = open_stream(client, route)
        with pytest.raises(APITimeoutError) as info:
            next(stream)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert stream.response.is_closed
    assert route.gone.wait(WAIT)


def test_connection_dropped_mid_stream(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}) + b'data: {"n": 2')
        conn.drop()

    stream = open_stream(client, server.route(handler))
    assert next(stream) == {"n": 1}
    with pytest.raises(APIConnectionError) as info:
        next(stream)
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert stream.response.is_closed


def test_oversized_event(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(b"data: " + b"x" * 4096)
        conn.keep_alive()

    route = server.route(handler)
    response = client.send(client.build_request("GET", route.url), stream=True)
    stream = EventStream(response, as_json, max_event_bytes=1000)
    with pytest.raises(ResponseValidationError) as info:
        next(stream)
    assert info.value.raw_response is response
    assert response.is_closed
    assert route.gone.wait(WAIT)


def endless(conn: Conn) -> None:
    conn.headers()
    conn.send(ev({"n": 1}))
    conn.keep_alive()


def test_close_releases_and_is_idempotent(server: Server, client: httpx.Client) -> None:
    route = server.route(endless)
    stream = open_stream(client, route)
    assert next(stream) == {"n": 1}
    stream.close()
    stream.close()
    assert stream.response.is_closed
    assert route.gone.wait(WAIT)
    assert list(stream) == []


def test_close_before_iterating(server: Server, client: httpx.Client) -> None:
    route = server.route(endless)
    stream = open_stream(client, route)
    stream.close()
    assert list(stream) == []
    assert route.gone.wait(WAIT)


def test_context_manager_releases_on_break(server: Server, client: httpx.Client) -> None:
    route = server.route(endless)
    with open_stream(client, route) as stream:
        for _item in stream:
            break
    assert stream.response.is_closed
    assert route.gone.wait(WAIT)


def test_garbage_collection_releases(server: Server, client: httpx.Client) -> None:
    started = server.route(endless)
    unstarted = server.route(endless)
    stream = open_stream(client, started)
    assert next(stream) == {"n": 1}
    response = stream.response
    other = open_stream(client, unstarted)
    other_response = other.response
    del stream, other
    gc.collect()
    assert response.is_closed
    assert other_response.is_closed
    assert started.gone.wait(WAIT)
    assert unstarted.gone.wait(WAIT)


def test_exhausted_stream_returns_connection_to_pool(server: Server, client: httpx.Client) -> None:
    def handler(conn: Conn) -> None:
        conn.headers()
        conn.send(ev({"n": 1}))
        conn.end()

    route = server.route(handler)
    peers: set[Any] = set()
    for _ in range(2):
        stream = open_stream(client, route)
        peers.add(stream.response.extensions["network_stream"].get_extra_info("client_addr"))
        assert list(stream) == [{"n": 1}]
    assert len(peers) == 1  # the second request reused the connection released by the first
