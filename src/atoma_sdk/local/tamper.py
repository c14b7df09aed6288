"""A loopback man-in-the-middle between the SDK and a node: what does the SDK do with a hostile proxy?

:class:`TamperingProxy` speaks plain HTTP/1.1 on a free loopback port (raw asyncio, in a background thread)
and forwards every request to ``upstream_url``. Hooks rewrite what passes through:

- ``mutate_request(exchange) -> bytes | Reply | RESET | None``: a new request body, an answer given without
  forwarding, a connection reset before any header, or None (unchanged);
- ``mutate_response(exchange, reply) -> Reply | RESET | None``: a non-streamed answer (byte-wise);
- ``mutate_event(exchange, index, data) -> Piece | list[Piece] | None``: one SSE ``data`` payload of a
  streamed answer, as it arrives (``[]`` drops it, a list duplicates or injects, None keeps it);
- ``mutate_events(exchange, events) -> list[Piece]``: the whole stream's payloads at once (buffered), for
  reordering, splicing and truncation.

A :data:`Piece` is a ``str`` (one ``data:`` payload, framed as an SSE event), ``bytes`` (written as they are),
:class:`Stall` (stop sending for a while) or :data:`RESET` (abort the connection with a TCP RST). A
:class:`Reply` body may be a list of pieces too (a reset mid-body, a slow drip with :func:`drip`).

``forge="answer"`` makes the proxy substitute its own X25519 key in lock answers, decrypt every confidential
request (kept in ``captured``) and answer it itself, sealed and validly signed with its *own* Sui key
(``signer``). ``forge="relay"`` substitutes the key the same way but re-encrypts the request to the real node
and relays the node's (validly signed) answers, re-encrypted: the prompt is read although the answers verify.
``mutate_relayed(exchange, chunks)`` may rewrite a relayed answer's decrypted chunks (``relayed`` keeps them;
:meth:`TamperingProxy.signed_by_proxy` signs new ones with the proxy's key).

Only the local node's SSE framing (``data: ...`` / comment blocks separated by a blank line) is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ..confidential.envelope import (
    ClientSession,
    NodeSession,
    RequestRejected,
    b64d,
    b64e,
    body_hash,
    public_key_bytes,
)
from ..confidential.sui import SuiKeyPair
from ..errors import AtomaError, IntegrityError
from . import tool_model

__all__ = [
    "RESET",
    "Exchange",
    "Piece",
    "Relayed",
    "Reply",
    "Reset",
    "Stall",
    "TamperingProxy",
    "drip",
    "flip_b64",
    "flip_field",
]

_HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding"}
)
_START_TIMEOUT = 15.0
_FORGED_TEXT = "FORGED BY PROXY"


class Reset:
    """Abort the connection at this point (TCP RST)."""

    def __repr__(self) -> str:
        return "RESET"


RESET = Reset()


@dataclass(frozen=True, slots=True)
class Stall:
    """Send nothing for ``seconds``."""

    seconds: float


Piece = str | bytes | Stall | Reset


@dataclass(slots=True)
class Exchange:
    """One request passing through the proxy (``index`` counts requests from 0)."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class Reply:
    """An HTTP answer. ``body`` is bytes or pieces; ``events`` makes it a chunked SSE stream instead."""

    status: int = 200
    body: bytes | Sequence[bytes | Stall | Reset] = b""
    headers: dict[str, str] = field(default_factory=dict)
    events: Sequence[Piece] | None = None
    #: Declared ``content-length`` (default: the byte pieces' total); a lie truncates or hangs the reader.
    content_length: int | None = None

    def json(self) -> Any:
        assert isinstance(self.body, bytes)
        return json.loads(self.body)

    @classmethod
    def of_json(cls, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        data = json.dumps(value, separators=(",", ":")).encode()
        return cls(status, data, {"content-type": "application/json", **(headers or {})})


@dataclass(frozen=True, slots=True)
class Relayed:
    """A decrypted answer (or stream chunk) relayed by a forger, with the node's hash and signature."""

    plaintext: bytes
    response_hash: Any
    signature: Any
    usage: Any = None


def drip(data: bytes, delay: float, size: int = 1) -> list[bytes | Stall]:
    """``data`` in ``size``-byte pieces with ``delay`` seconds between them (a slow drip)."""
    pieces: list[bytes | Stall] = []
    for start in range(0, len(data), size):
        if start:
            pieces.append(Stall(delay))
        pieces.append(data[start : start + size])
    return pieces


def flip_b64(value: str, bit: int = 0) -> str:
    """Flip one bit of a base64 value's decoded bytes (bit ``bit`` counting from the first byte)."""
    raw = bytearray(b64d(value, what="value"))
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    return b64e(bytes(raw))


def flip_field(data: str | bytes, name: str, bit: int = 0) -> str:
    """A JSON object (an envelope) with one bit of its base64 field ``name`` flipped."""
    value = json.loads(data)
    value[name] = flip_b64(value[name], bit)
    return json.dumps(value, separators=(",", ":"))


MutateRequest = Callable[[Exchange], "bytes | Reply | Reset | None"]
MutateResponse = Callable[[Exchange, Reply], "Reply | Reset | None"]
MutateEvent = Callable[[Exchange, int, str], "Piece | Sequence[Piece] | None"]
MutateEvents = Callable[[Exchange, list[str]], Sequence[Piece]]
MutateRelayed = Callable[[Exchange, list[Relayed]], list[Relayed]]


class _Closed(Exception):
    """The connection was reset on purpose."""


class _Forger:
    """The key-substituting proxy: its own X25519 key for the client, its own Sui key for answers it makes."""

    def __init__(self, mode: Literal["answer", "relay"], text: str) -> None:
        self.mode = mode
        self.text = text
        self.private = X25519PrivateKey.generate()
        self.public = b64e(public_key_bytes(self.private))
        self.signer = SuiKeyPair.generate()
        self.node_key: str | None = None
        self.captured: list[bytes] = []
        self.relayed: list[list[Relayed]] = []

    def substitute(self, reply: Reply) -> Reply:
        """A lock answer with the node's key replaced by ours (the node's is remembered for relaying)."""
        if reply.status != 200 or not isinstance(reply.body, bytes):
            return reply
        lock = json.loads(reply.body)
        self.node_key = lock.get("public_key")
        lock["public_key"] = self.public
        return Reply.of_json(lock, headers={k: v for k, v in reply.headers.items() if k != "content-type"})

    def open(self, exchange: Exchange) -> tuple[NodeSession, dict[str, Any], bytes]:
        outer = exchange.json()
        session, plaintext = NodeSession.from_request(self.private, outer)
        self.captured.append(plaintext)
        return session, outer, plaintext

    def sealed(self, session: NodeSession, relayed: Relayed) -> dict[str, Any]:
        ciphertext, nonce = session.encrypt(relayed.plaintext)
        body: dict[str, Any] = {"ciphertext": ciphertext, "nonce": nonce}
        if relayed.usage is not None:
            body["usage"] = relayed.usage
        body["signature"] = relayed.signature
        body["response_hash"] = relayed.response_hash
        return body

    def own(self, plaintext: bytes, usage: Any = None) -> Relayed:
        digest = body_hash(plaintext)
        return Relayed(plaintext, b64e(digest), self.signer.sign_hash(digest), usage)

    def answer(self, session: NodeSession, outer: dict[str, Any], plaintext: bytes) -> Reply:
        """Answer a chat request ourselves with :attr:`text`, signed by our own Sui key."""
        inner = json.loads(plaintext)
        if not outer.get("stream"):
            completion = tool_model.chat_completion(inner)
            completion["choices"][0]["message"]["content"] = self.text
            completion["usage"]["completion_tokens"] = 1
            data = _dumps(completion)
            return Reply.of_json({**self.sealed(session, self.own(data)), "usage": completion["usage"]})
        chunks = tool_model.chat_completion_chunks(inner)
        first, last = chunks[0], chunks[-1]
        first["choices"][0]["delta"]["content"] = self.text
        first["choices"][0]["finish_reason"] = "stop"
        last["usage"]["completion_tokens"] = 1
        events: list[Piece] = [_dumps(self.sealed(session, self.own(_dumps(first)))).decode()]
        events.append(_dumps(self.sealed(session, self.own(_dumps(last), last["usage"]))).decode())
        return Reply(200, headers={"content-type": "text/event-stream"}, events=events)

    def reencrypt_request(self, outer: dict[str, Any], plaintext: bytes) -> tuple[ClientSession, bytes]:
        if self.node_key is None:
            raise AtomaError("the forging proxy has not seen a lock answer yet")
        upstream = ClientSession.create(self.node_key)
        return upstream, _dumps({**outer, **upstream.encrypt_request(plaintext)})

    @staticmethod
    def unseal(upstream: ClientSession, envelope: dict[str, Any]) -> Relayed:
        plaintext = upstream.decrypt(envelope.get("ciphertext"), envelope.get("nonce"))
        get = envelope.get
        return Relayed(plaintext, get("response_hash"), get("signature"), get("usage"))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class TamperingProxy:
    """A hostile proxy on loopback: ``with TamperingProxy(node.url, ...) as proxy:`` then use ``proxy.url``.

    ``requests`` lists every :class:`Exchange` seen (after ``mutate_request``); ``open_connections`` /
    ``total_connections`` count client connections; ``errors`` collects exceptions raised by hooks (each
    also resets its connection).
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        mutate_request: MutateRequest | None = None,
        mutate_response: MutateResponse | None = None,
        mutate_event: MutateEvent | None = None,
        mutate_events: MutateEvents | None = None,
        forge: Literal["answer", "relay"] | None = None,
        forged_text: str = _FORGED_TEXT,
        mutate_relayed: MutateRelayed | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.mutate_request = mutate_request
        self.mutate_response = mutate_response
        self.mutate_event = mutate_event
        self.mutate_events = mutate_events
        self.mutate_relayed = mutate_relayed
        self._forger = _Forger(forge, forged_text) if forge is not None else None
        self._host = host
        self.requests: list[Exchange] = []
        self.errors: list[BaseException] = []
        self.open_connections = 0
        self.total_connections = 0
        self._url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- forging ---------------------------------------------------------------------------------------------

    @property
    def signer(self) -> SuiKeyPair:
        """The forging proxy's own Sui key."""
        assert self._forger is not None, "not a forging proxy"
        return self._forger.signer

    def signed_by_proxy(self, plaintext: bytes, usage: Any = None) -> Relayed:
        """``plaintext`` with its hash, signed by the forging proxy's own Sui key (for ``mutate_relayed``)."""
        assert self._forger is not None, "not a forging proxy"
        return self._forger.own(plaintext, usage)

    @property
    def captured(self) -> list[bytes]:
        """Request plaintexts a forging proxy decrypted."""
        return self._forger.captured if self._forger is not None else []

    @property
    def relayed(self) -> list[list[Relayed]]:
        """Per relayed confidential answer, its decrypted chunks (one for a non-streamed answer)."""
        return self._forger.relayed if self._forger is not None else []

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self._url:
            raise AtomaError("the proxy is not running")
        return self._url

    def start(self) -> TamperingProxy:
        """Start serving on a free port; returns when it accepts connections."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name="atoma-tampering-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT) or failure:
            self._thread = None
            raise AtomaError("the tampering proxy failed to start")
        return self

    def stop(self) -> None:
        """Stop serving, reset open connections and wait for the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = self._loop = None
        self._url = ""

    def __enter__(self) -> TamperingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        # Loopback plain HTTP only: no certificate store to load.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(60.0), verify=False, trust_env=False)
        self._server = await asyncio.start_server(self._serve, self._host, 0)
        sock = self._server.sockets[0]
        host, port = sock.getsockname()[:2]
        self._url = f"http://{host}:{port}"

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        await asyncio.get_running_loop().shutdown_asyncgens()

    # -- one connection --------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open_connections += 1
        self.total_connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                exchange = await _read_request(reader, len(self.requests))
                if exchange is None:
                    break
                await self._handle(exchange, _Conn(reader, writer))
        except (_Closed, ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # reset on purpose, the client went away, or the proxy is stopping
        except Exception as exc:  # a hook failed: the test sees it in ``errors``
            self.errors.append(exc)
            _abort(writer)
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _handle(self, exchange: Exchange, conn: _Conn) -> None:
        changed = self.mutate_request(exchange) if self.mutate_request is not None else None
        if isinstance(changed, bytes):
            exchange.body = changed
        self.requests.append(exchange)
        if isinstance(changed, Reset):
            _abort(conn.writer)
            raise _Closed
        if isinstance(changed, Reply):
            await self._write(exchange, changed, conn)
            return
        reply = await self._answer(exchange)
        await self._write(exchange, reply, conn)

    async def _answer(self, exchange: Exchange) -> Reply:
        forger = self._forger
        confidential = exchange.path.startswith("/v1/confidential/")
        if forger is not None and confidential:
            try:
                session, outer, plaintext = forger.open(exchange)
            except (ValueError, RequestRejected, IntegrityError):
                return Reply.of_json({"error": {"code": "REQUEST_ERROR", "message": "bad request"}}, 400)
            if forger.mode == "answer":
                return forger.answer(session, outer, plaintext)
            upstream_session, exchange.body = forger.reencrypt_request(outer, plaintext)
            return await self._relay(exchange, session, upstream_session)
        reply = await self._forward(exchange)
        if forger is not None and exchange.path == "/v1/nodes/lock":
            reply = forger.substitute(reply)
        return reply

    async def _forward(self, exchange: Exchange, *, buffer_stream: bool = False) -> Reply:
        assert self._client is not None
        headers = {k: v for k, v in exchange.headers.items() if k not in _HOP_HEADERS}
        request = self._client.build_request(
            exchange.method, self.upstream_url + exchange.path, headers=headers, content=exchange.body
        )
        response = await self._client.send(request, stream=True)
        out_headers = {k: v for k, v in response.headers.items() if k not in _HOP_HEADERS}
        if response.headers.get("content-type", "").startswith("text/event-stream") and not buffer_stream:
            return Reply(response.status_code, headers=out_headers, events=_SourceEvents(response))
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        events = _split_events(body) if buffer_stream else None
        return Reply(response.status_code, body, out_headers, events=events)

    async def _relay(self, exchange: Exchange, session: NodeSession, upstream: ClientSession) -> Reply:
        assert self._forger is not None
        forger = self._forger
        reply = await self._forward(exchange, buffer_stream=True)
        if reply.status != 200:
            return Reply(reply.status, reply.body, reply.headers)
        if reply.events is None or not reply.headers.get("content-type", "").startswith("text/event-stream"):
            envelope = reply.json()
            relayed = [forger.unseal(upstream, envelope)]
            forger.relayed.append(list(relayed))
            if self.mutate_relayed is not None:
                relayed = self.mutate_relayed(exchange, relayed)
            return Reply.of_json({**envelope, **forger.sealed(session, relayed[0])})
        chunks = [
            forger.unseal(upstream, json.loads(piece))
            for piece in reply.events
            if isinstance(piece, str) and piece != "[DONE]"
        ]
        forger.relayed.append(list(chunks))
        if self.mutate_relayed is not None:
            chunks = self.mutate_relayed(exchange, chunks)
        events: list[Piece] = [_dumps(forger.sealed(session, chunk)).decode() for chunk in chunks]
        return Reply(200, headers=reply.headers, events=events)

    # -- writing ---------------------------------------------------------------------------------------------

    async def _write(self, exchange: Exchange, reply: Reply, conn: _Conn) -> None:
        if reply.events is None:
            if self.mutate_response is not None:
                changed = self.mutate_response(exchange, reply)
                if isinstance(changed, Reset):
                    _abort(conn.writer)
                    raise _Closed
                if changed is not None:
                    reply = changed
            if reply.events is None:
                await self._write_plain(reply, conn)
                return
        await self._write_stream(exchange, reply, conn)

    async def _write_plain(self, reply: Reply, conn: _Conn) -> None:
        body = reply.body
        pieces: Sequence[bytes | Stall | Reset] = [body] if isinstance(body, bytes) else body
        length = reply.content_length
        if length is None:
            length = sum(len(p) for p in pieces if isinstance(p, bytes))
        headers = {**reply.headers, "content-length": str(length)}
        conn.writer.write(_head(reply.status, headers))
        for piece in pieces:
            await _put(conn, piece, lambda data: data)
        await conn.writer.drain()

    async def _write_stream(self, exchange: Exchange, reply: Reply, conn: _Conn) -> None:
        headers = {**reply.headers, "transfer-encoding": "chunked"}
        headers.setdefault("content-type", "text/event-stream")
        writer = conn.writer
        writer.write(_head(reply.status, headers))
        await writer.drain()
        assert reply.events is not None
        pieces = self._pieces(exchange, reply.events)
        try:
            async for piece in pieces:
                await _put(conn, piece, _chunk)
        except httpx.HTTPError:
            _abort(writer)  # the upstream broke mid-stream: so does the proxy
            raise _Closed from None
        finally:
            await pieces.aclose()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _pieces(self, exchange: Exchange, events: Sequence[Piece]) -> AsyncGenerator[Piece, None]:
        source = _iterate(events)
        try:
            async for piece in self._mutated(exchange, source):
                yield piece
        finally:
            await source.aclose()

    async def _mutated(self, exchange: Exchange, source: AsyncIterator[Piece]) -> AsyncIterator[Piece]:
        if self.mutate_events is not None:
            datas = [p async for p in source if isinstance(p, str)]
            for piece in self.mutate_events(exchange, datas):
                yield piece
            return
        index = 0
        async for piece in source:
            if not isinstance(piece, str) or self.mutate_event is None:
                yield piece
                continue
            changed = self.mutate_event(exchange, index, piece)
            index += 1
            if changed is None:
                yield piece
            elif isinstance(changed, (str, bytes, Stall, Reset)):
                yield changed
            else:
                for item in changed:
                    yield item


class _SourceEvents(Sequence[Piece]):
    """Marker: the upstream's SSE body, read lazily (``_iterate`` streams it)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __len__(self) -> int:
        raise TypeError("a live stream has no length")

    def __getitem__(self, index: Any) -> Any:
        raise TypeError("a live stream cannot be indexed")


async def _iterate(events: Sequence[Piece]) -> AsyncGenerator[Piece, None]:
    if not isinstance(events, _SourceEvents):
        for piece in events:
            yield piece
        return
    buffer = b""
    try:
        async for data in events.response.aiter_raw():
            buffer += data
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                yield _event_piece(block)
    finally:
        await events.response.aclose()


def _split_events(body: bytes) -> list[Piece]:
    return [_event_piece(block) for block in body.split(b"\n\n") if block]


def _event_piece(block: bytes) -> Piece:
    lines = block.split(b"\n")
    datas = [line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:")]
    if not datas:
        return block + b"\n\n"
    return b"\n".join(datas).decode()


@dataclass(frozen=True, slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


_STALL_POLL_S = 0.02


async def _put(conn: _Conn, piece: Piece, frame: Callable[[bytes], bytes]) -> None:
    writer = conn.writer
    if isinstance(piece, Reset):
        await writer.drain()
        _abort(writer)
        raise _Closed
    if isinstance(piece, Stall):
        await writer.drain()
        await _stall(conn.reader, piece.seconds)
        return
    data = b"data: " + piece.encode() + b"\n\n" if isinstance(piece, str) else piece
    if data:
        writer.write(frame(data))
        await writer.drain()


async def _stall(reader: asyncio.StreamReader, seconds: float) -> None:
    """Sleep ``seconds``, but give up (as the real server would) once the client has gone away."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if reader.at_eof():
            raise _Closed
        await asyncio.sleep(min(left, _STALL_POLL_S))


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader, index: int) -> Exchange | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Exchange(index, method, target, headers, body)
