"""A loopback stand-in for vLLM behind a local node (``NodeConfig(upstream=...)``): tests script its streams.

It answers ``/v1/chat/completions`` and ``/v1/completions`` like vLLM does: a stream is the scripted chunks
(whatever their shape: several tokens per chunk, empty text, role-only, tool-call pieces) then ``[DONE]``;
a non-streamed request with ``stream_options`` (or ``"reject": true``) is refused with 400, as vLLM refuses
the former. Every request body
is kept, so a test can see the plaintext the node decrypted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from atoma_sdk.local import LocalNode, NodeConfig

Json = dict[str, Any]


class FakeEngine:
    """The scripted engine: set ``chunks`` (a stream's chunks, usage chunk included) before a call."""

    def __init__(self) -> None:
        self.chunks: list[Json] = []
        self.bodies: list[Json] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, body: Json) -> tuple[int, Json]:
        """The non-streamed answer to ``body`` (vLLM's 400 for ``stream_options`` without ``stream``)."""
        if body.get("stream_options") is not None and not body.get("stream"):
            message = "Stream options can only be defined when stream is True"
            return 400, {"object": "error", "message": message}
        if body.get("reject"):
            return 400, {"object": "error", "message": "rejected"}
        model = body.get("model")
        if "messages" in body:
            choice: Json = {"index": 0, "message": {"role": "assistant", "content": "buffered"}}
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": "buffered", "logprobs": None}
            kind = "text_completion"
        choice["finish_reason"] = "stop"
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        return 200, {"id": "cmpl-fake", "object": kind, "created": 1, "model": model,
                     "choices": [choice], "usage": usage}


def _handler(engine: FakeEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            engine.bodies.append(body)
            if not body.get("stream"):
                status, answer = engine.answer(body)
                self._send(status, "application/json", json.dumps(answer).encode())
                return
            events = [f"data: {json.dumps(chunk)}\n\n" for chunk in engine.chunks]
            self._send(200, "text/event-stream", ("".join(events) + "data: [DONE]\n\n").encode())

        def _send(self, status: int, content_type: str, content: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    return Handler


@contextmanager
def node_with_engine(**config: Any) -> Iterator[tuple[LocalNode, FakeEngine]]:
    """A local node whose answers come from a fresh :class:`FakeEngine`."""
    config.setdefault("completions_stream_quirk", False)  # native completions streams reach the client
    with FakeEngine() as engine, LocalNode(NodeConfig(upstream=engine.url, **config)) as node:
        yield node, engine
