"""Async requests in flight are bounded per SDK (max_concurrent_requests); owned pools keep connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.clients import DEFAULT_MAX_CONNECTIONS, ClientPool
from atoma_sdk._runtime.sdkbase import SDKBase

from .conftest import HEALTH


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def slow_server() -> Iterator[tuple[str, _Counter]]:
    counter = _Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with counter.lock:
                counter.now += 1
                counter.most = max(counter.most, counter.now)
            time.sleep(0.05)  # long enough for concurrent requests to overlap
            with counter.lock:
                counter.now -= 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counter
    finally:
        server.shutdown()
        server.server_close()


async def _burst(sdk: SDKBase, n: int) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(sdk._runtime.call_async, HEALTH, {})


@pytest.mark.anyio
async def test_requests_in_flight_are_bounded(slow_server: tuple[str, _Counter]) -> None:
    url, counter = slow_server
    async with SDKBase(server_url=url, max_concurrent_requests=3) as sdk:
        await _burst(sdk, 24)
    assert 1 <= counter.most <= 3


@pytest.mark.anyio
async def test_no_bound_when_none(slow_server: tuple[str, _Counter]) -> None:
    url, counter = slow_server
    async with SDKBase(server_url=url, max_concurrent_requests=None) as sdk:
        await _burst(sdk, 24)
    assert counter.most > 3


def test_invalid_bound_is_a_typed_error() -> None:
    with pytest.raises(errors.RequestValidationError):
        SDKBase(server_url="http://127.0.0.1:9", max_concurrent_requests=0)


def test_sdk_owned_clients_keep_every_connection_alive() -> None:
    pool = ClientPool()
    clients: list[Any] = [pool.sync(), pool.async_()]
    for client in clients:
        limits = client._transport._pool
        assert limits._max_connections == DEFAULT_MAX_CONNECTIONS
        assert limits._max_keepalive_connections == DEFAULT_MAX_CONNECTIONS
    pool.close()
