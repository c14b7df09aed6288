"""Fixtures for runtime tests: a scripted HTTP server on a loopback socket, throw-away models, a test SDK."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from atoma_sdk._runtime import serde
from atoma_sdk._runtime.operation import Operation, RetryRule
from atoma_sdk._runtime.sdkbase import SDKBase
from atoma_sdk.types import BaseModel

# -- throw-away models ---------------------------------------------------------------------------------------


class Message(BaseModel):
    role: str
    content: str | None = None
    __nullable_fields__ = frozenset({"content"})


class ChatRequest(BaseModel):
    model: str
    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None


class Choice(BaseModel):
    index: int
    text: str


class ChatResponse(BaseModel):
    id: str
    choices: list[Choice]


class Chunk(BaseModel):
    id: str
    delta: str


MODELS: dict[str, Any] = {
    "Message": Message,
    "ChatRequest": ChatRequest,
    "ChatResponse": ChatResponse,
    "Chunk": Chunk,
    "ChunkList": list[Chunk],
}

CHAT: Operation[ChatResponse] = Operation(
    "chat", "POST", "/v1/chat", request="ChatRequest", response="ChatResponse"
)
CHAT_RAW: Operation[ChatResponse] = Operation(
    "chat_raw", "POST", "/v1/chat", request="ChatRequest", response="ChatResponse",
    retry_rule=RetryRule.NOT_SENT_ONLY,
)
HEALTH: Operation[None] = Operation("health", "GET", "/health", security=False)
STREAM: Operation[Chunk] = Operation(
    "chat_stream", "POST", "/v1/chat", request="ChatRequest", response="Chunk", stream=True, sentinel="[DONE]"
)
OK_BODY = {"id": "r1", "choices": [{"index": 0, "text": "hi"}]}
PARAMS: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(autouse=True)
def _models() -> Iterator[None]:
    serde.set_resolver(MODELS.__getitem__)
    yield
    serde.set_resolver(None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- scripted server -----------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[["_Handler"], None]


@dataclass
class ScriptServer:
    """Answers each request with the next scripted responder (default: 200 with ``OK_BODY``)."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    script: deque[Responder] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, *responders: Responder) -> None:
        self.script.extend(responders)

    def next(self) -> Responder:
        with self.lock:
            return self.script.popleft() if self.script else reply(200, OK_BODY)


class _Handler(BaseHTTPRequestHandler):
    server_version = "script/1"
    protocol_version = "HTTP/1.1"
    script: ScriptServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.script.seen.append(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        self.script.next()(self)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Responder:
    """A complete JSON (or bytes) answer."""
    content = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())

    def respond(h: _Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(content)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.send_raw(content)

    return respond


def dropped(partial: bytes = b'{"id": "r1", "cho') -> Responder:
    """Headers promise more bytes than are sent, then the connection closes."""

    def respond(h: _Handler) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        h.send_raw(head + partial)
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)

    return respond


def hang(server: ScriptServer) -> Responder:
    """Never answer (until the test ends)."""

    def respond(h: _Handler) -> None:
        server.release.wait(10)
        h.close_connection = True

    return respond


def sse(events: list[str], *, close_after: bool = True, status: int = 200, drop: bool = False) -> Responder:
    """An event stream of ``data:`` events (``drop``: cut the connection after them, mid-stream)."""

    def respond(h: _Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        if drop:
            h.send_header("Content-Length", "100000")
        h.end_headers()
        for data in events:
            h.send_raw(f"data: {data}\n\n".encode())
        h.close_connection = True
        if drop:
            h.connection.shutdown(socket.SHUT_RDWR)

    return respond


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped connections are the point of some tests


@pytest.fixture
def server() -> Iterator[ScriptServer]:
    script = ScriptServer()
    handler = type("Handler", (_Handler,), {"script": script})
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        script.release.set()
        httpd.shutdown()
        httpd.server_close()


# -- the SDK under test --------------------------------------------------------------------------------------


class SDK(SDKBase):
    """SDKBase with no resources; tests call ``sdk._runtime`` directly."""


@dataclass
class Sleeps:
    """Records retry delays instead of sleeping."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)

    async def async_sleep(self, delay: float) -> None:
        self.delays.append(delay)


def no_wait(sdk: SDKBase) -> Sleeps:
    sleeps = Sleeps()
    sdk._runtime.sleep = sleeps
    sdk._runtime.async_sleep = sleeps.async_sleep
    return sleeps


@pytest.fixture
def make_sdk(server: ScriptServer) -> Iterator[Callable[..., tuple[SDK, Sleeps]]]:
    made: list[SDK] = []

    def make(**kwargs: Any) -> tuple[SDK, Sleeps]:
        kwargs.setdefault("server_url", server.url)
        kwargs.setdefault("bearer_auth", "test-token")
        sdk = SDK(**kwargs)
        made.append(sdk)
        return sdk, no_wait(sdk)

    yield make
    for sdk in made:
        sdk.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
