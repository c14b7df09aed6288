"""A small hostile HTTP/1.1 server on a loopback socket (raw asyncio): bombs, drips, redirects, echoes.

A test sets ``server.reply`` to a function of the parsed request that returns a :class:`Reply`: a list of
byte strings to write and floats to sleep between them (drip-feeding). The connection closes after each
answer. Requests are recorded in ``server.seen``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Step = bytes | float
Reply = Iterable[Step]


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def head(status: int, headers: dict[str, str] | None = None, *, length: int | None = None) -> bytes:
    """A status line and headers (``length``: a Content-Length; None: the body ends with the connection)."""
    lines = [f"HTTP/1.1 {status} X"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, body: bytes | Any, headers: dict[str, str] | None = None) -> Reply:
    """A whole answer with a Content-Length (non-bytes bodies are JSON-encoded)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    merged = {"Content-Type": "application/json", **(headers or {})}
    return [head(status, merged, length=len(raw)) + raw]


def streamed(status: int, chunks: Iterable[bytes], headers: dict[str, str] | None = None) -> Iterator[Step]:
    """An answer without Content-Length whose body is ``chunks`` (ended by closing the connection)."""
    yield head(status, {"Content-Type": "application/json", **(headers or {})})
    yield from chunks


def drip(data: bytes, every: float = 0.5) -> list[Step]:
    """``data`` one byte at a time, ``every`` seconds apart."""
    steps: list[Step] = []
    for i in range(len(data)):
        steps += [data[i : i + 1], every]
    return steps


_BOMBS: dict[tuple[str, int], bytes] = {}


def bomb(decoded: int = 1 << 30, encoding: str = "gzip") -> bytes:
    """``decoded`` zero bytes compressed (gzip: 1 GiB -> about 1 MB), built once per process.

    gzip: one member holding 1 MiB of zeros, repeated (a multi-member body, as RFC 1952 allows: quick to
    build). deflate: one stream, compressed for real (keep ``decoded`` small).
    """
    key = (encoding, decoded)
    if key not in _BOMBS:
        if encoding == "gzip":
            _BOMBS[key] = gzip.compress(bytes(1 << 20), 9) * (decoded >> 20)
        else:
            packer = zlib.compressobj(9)
            block = bytes(1 << 20)
            parts = [packer.compress(block) for _ in range(decoded >> 20)]
            _BOMBS[key] = b"".join([*parts, packer.flush()])
    return _BOMBS[key]


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def nested(depth: int = 150_000) -> bytes:
    """JSON nested ``depth`` levels deep."""
    return b"[" * depth + b"]" * depth


def lock_body() -> dict[str, Any]:
    """A well-formed lock answer (any 32-byte key: the hostile answers come later)."""
    return {
        "public_key": base64.b64encode(bytes(range(32))).decode(),
        "node_small_id": 1,
        "stack_entry_digest": None,
        "stack_small_id": 7,
    }


@dataclass
class HostileServer:
    """Serves ``reply(seen)`` on 127.0.0.1 from a background thread."""

    reply: Callable[[Seen], Reply] = field(default=lambda seen: answer(200, {}))
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, OSError,
                                 asyncio.CancelledError):
            request_line = (await reader.readline()).decode("latin-1").split()
            if len(request_line) < 2:
                return
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            seen = Seen(request_line[0], request_line[1], headers, body)
            self.seen.append(seen)
            for step in self.reply(seen):
                if isinstance(step, float):
                    await asyncio.sleep(step)
                else:
                    writer.write(step)
                    await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()
