"""A tiny threaded HTTP/1.1 server on a free loopback port, scripted per test (chunked SSE bodies)."""

from __future__ import annotations

import io
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

KEEP_ALIVE = b": keep-alive\n\n"


@dataclass
class Route:
    """One scripted answer; ``gone`` is set when the server sees the client go away."""

    handler: Callable[[Conn], None]
    url: str = ""
    gone: threading.Event = field(default_factory=threading.Event)
    proceed: threading.Event = field(default_factory=threading.Event)


class Conn:
    """The server side of one request: send a chunked event-stream answer, or misbehave."""

    def __init__(self, sock: socket.socket, reader: io.BufferedReader, route: Route) -> None:
        self.sock = sock
        self.reader = reader
        self.route = route
        self.closed = False

    def headers(self, status: int = 200, content_type: str = "text/event-stream") -> None:
        self.sock.sendall(
            f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )

    def send(self, data: bytes) -> bool:
        """One HTTP chunk; False once the client is gone."""
        try:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError:
            self.route.gone.set()
            self.closed = True
            return False
        return True

    def end(self) -> None:
        self.sock.sendall(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the connection in the middle of the body."""
        self.sock.shutdown(socket.SHUT_RDWR)
        self.closed = True

    def keep_alive(self, until: threading.Event | None = None, interval: float = 0.01) -> bool:
        """Send keep-alive comments until the client goes away (False) or ``until`` is set (True)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if until is not None and until.is_set():
                return True
            if not self.send(KEEP_ALIVE):
                return False
            time.sleep(interval)
        self.closed = True
        return False

    def wait_gone(self) -> None:
        """Send nothing; return when the client closes the connection."""
        try:
            data = self.reader.read(1)
        except OSError:
            data = b""
        if not data:
            self.route.gone.set()
        self.closed = True


class Server:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.routes: dict[str, Route] = {}
        self._ids = itertools.count()
        threading.Thread(target=self._accept, daemon=True).start()

    def route(self, handler: Callable[[Conn], None]) -> Route:
        path = f"/r{next(self._ids)}"
        route = Route(handler, self.base + path)
        self.routes[path] = route
        return route

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock, sock.makefile("rb") as reader:
            while True:
                try:
                    request_line = reader.readline()
                except OSError:  # the client reset a kept-alive connection (e.g. after an idle timeout)
                    return
                if not request_line:
                    return
                path = request_line.decode().split(" ")[1]
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    reader.read(length)
                route = self.routes[path]
                conn = Conn(sock, reader, route)
                try:
                    route.handler(conn)
                except OSError:
                    route.gone.set()
                    return
                if conn.closed:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(10.0)) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
