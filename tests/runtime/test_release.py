"""A response the SDK has read or whose stream it closed is freed by reference counting: httpx's stream
wrapper points back at its response, and the SDK unbinds it (about 80 objects a response otherwise wait for
the garbage collector, which at high concurrency cost more CPU than the SDK's own code)."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk._runtime.bounded import read_body

from .conftest import CHAT, PARAMS, STREAM, reply, sse

MakeSDK = Any


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_read_response_is_freed_without_the_collector(
    server: Any, make_sdk: MakeSDK, no_collector: None
) -> None:
    sdk, _ = make_sdk()
    server.push(reply(200, {"id": "x", "choices": []}), reply(200, {"id": "y", "choices": []}))
    sdk._runtime.call(CHAT, PARAMS)  # the connection is open: nothing below is a one-time object
    response = sdk._runtime.send(CHAT, json.dumps(PARAMS).encode())
    assert response.json()["id"] == "y"
    ref = weakref.ref(response)
    del response
    assert ref() is None


def test_a_closed_stream_frees_its_response(server: Any, make_sdk: MakeSDK, no_collector: None) -> None:
    sdk, _ = make_sdk()
    server.push(sse(['{"id": "c", "delta": "0"}', "[DONE]"]))
    stream = sdk._runtime.stream(STREAM, PARAMS)
    with stream:
        assert [c.delta for c in stream] == ["0"]
    ref = weakref.ref(stream.response)
    del stream
    assert ref() is None


def test_the_stock_reader_leaves_the_cycle(server: Any, no_collector: None) -> None:
    # The case above can fail: httpx's own read keeps the response in a cycle.
    server.push(reply(200, {"ok": True}), reply(200, {"ok": True}))
    with httpx.Client() as client:
        client.get(server.url + "/warm")
        response = client.send(client.build_request("GET", server.url + "/x"), stream=True)
        response.read()
        response.close()
        ref = weakref.ref(response)
        del response
        assert ref() is not None
        response = client.send(client.build_request("GET", server.url + "/x"), stream=True)
        read_body(response, 1 << 20)
        ref = weakref.ref(response)
        del response
        assert ref() is None
