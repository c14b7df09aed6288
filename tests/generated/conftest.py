"""Fixtures for the generator's tests: the intermediate form, and a recording loopback server (starlette)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))

from gen import spec  # noqa: E402


@pytest.fixture(scope="session")
def api() -> spec.Api:
    return spec.load(REPO)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Canned:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Canned:
    return Canned(status, json.dumps(body).encode(), headers or {})


def sse(items: list[Any], *, done: bool) -> Canned:
    """An SSE body: one ``data:`` line per item (bare JSON), a keep-alive comment, optionally ``[DONE]``."""
    events = [": keep-alive\n\n"] + [f"data: {json.dumps(item)}\n\n" for item in items]
    if done:
        events.append("data: [DONE]\n\n")
    return Canned(200, "".join(events).encode(), {"cache-control": "no-cache"}, "text/event-stream")


class Recorder:
    """A loopback HTTP server that records every request and answers with queued canned responses."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.queue: deque[Canned] = deque()
        self.lock = threading.Lock()
        self.url = ""

    def push(self, *responses: Canned) -> None:
        with self.lock:
            self.queue.extend(responses)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.seen.append(Seen(request.method, request.url.path, dict(request.headers), body))
            canned = self.queue.popleft() if self.queue else Canned(599, b'{"error": "nothing queued"}')
        return Response(canned.body, canned.status, canned.headers, media_type=canned.media_type)


@pytest.fixture(scope="module")
def _server() -> Iterator[Recorder]:
    recorder = Recorder()
    app = Starlette(routes=[Route("/{path:path}", recorder.handle, methods=["GET", "POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    recorder.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield recorder
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def server(_server: Recorder) -> Recorder:
    with _server.lock:
        _server.seen.clear()
        _server.queue.clear()
    return _server
