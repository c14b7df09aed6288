"""``upstream`` mode: the node as a confidential gateway in front of an OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.local.server import BackgroundServer

from .conftest import make_client
from .support import CHAT, EMBEDDING_MODEL, EMBEDDINGS, Client, chat_body, error_of

GENERIC_500 = "Inference service returned status code error 500 Internal Server Error"
SEEN: list[dict[str, Any]] = []


async def _chat(request: Request) -> Response:
    body = json.loads(await request.body())
    SEEN.append({"body": body, "auth": request.headers.get("authorization")})
    words = ["echo:", *body["messages"][-1]["content"].split()]
    if body.get("max_tokens") == 999:
        return JSONResponse({"error": "too many"}, status_code=400)
    if body.get("max_tokens") == 500:
        return JSONResponse({"error": "boom"}, status_code=500)
    base = {"id": "up-1", "created": 1, "model": body["model"]}
    usage = {"prompt_tokens": 3, "completion_tokens": len(words), "total_tokens": 3 + len(words)}
    if not body.get("stream"):
        message = {"role": "assistant", "content": " ".join(words)}
        return JSONResponse(
            {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
        )

    async def events() -> AsyncIterator[bytes]:
        for i, word in enumerate(words):
            choice = {
                "index": 0,
                "delta": {"content": word},
                "finish_reason": "stop" if i == len(words) - 1 else None,
            }
            yield (
                b"data: "
                + json.dumps({**base, "object": "chat.completion.chunk", "choices": [choice]}).encode()
                + b"\n\n"
            )
        yield (
            b"data: "
            + json.dumps({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}).encode()
        )
        yield b"\n\ndata: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def _embeddings(request: Request) -> Response:
    body = json.loads(await request.body())
    return JSONResponse(
        {
            "object": "list",
            "model": body["model"],
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
    )


@pytest.fixture(scope="module")
def engine_url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", _chat, methods=["POST"]),
            Route("/v1/embeddings", _embeddings, methods=["POST"]),
        ]
    )
    server = BackgroundServer(app)
    server.start()
    yield server.url + "/v1"
    server.stop()


@pytest.fixture
def gateway(engine_url: str) -> Iterator[Client]:
    with LocalNode(NodeConfig(upstream=engine_url + "/", upstream_api_key="up-key")) as node:
        yield from make_client(node)


def test_non_streamed_answer_comes_from_upstream(gateway: Client) -> None:
    envelope, answer = gateway.call(CHAT, chat_body("hello gateway"))
    assert answer["choices"][0]["message"]["content"] == "echo: hello gateway"
    assert envelope["usage"] == answer["usage"]
    assert SEEN[-1]["auth"] == "Bearer up-key"
    assert SEEN[-1]["body"] == {**chat_body("hello gateway"), "stream": False}


def test_streamed_answer_comes_from_upstream(gateway: Client) -> None:
    sealed, events = gateway.stream(CHAT, chat_body("a b"))
    chunks = [json.loads(gateway.open(sealed.session, e.json())) for e in events if e.kind == "data"]
    assert [c["choices"][0]["delta"]["content"] for c in chunks[:-1]] == ["echo:", "a", "b"]
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert SEEN[-1]["body"]["stream_options"] == {"include_usage": True}


def test_other_operations_are_forwarded(gateway: Client) -> None:
    _, answer = gateway.call(EMBEDDINGS, {"model": EMBEDDING_MODEL, "input": "x"})
    assert answer["data"][0]["embedding"] == [0.5]


@pytest.mark.parametrize(("max_tokens", "message"), [(999, "Bad Request"), (500, GENERIC_500)])
def test_upstream_errors_map_like_node_errors(gateway: Client, max_tokens: int, message: str) -> None:
    sealed = gateway.seal(chat_body(max_tokens=max_tokens), num_compute_units=max_tokens)
    assert error_of(gateway.post(CHAT, sealed)) == (500, "INTERNAL_ERROR", message)


def test_unreachable_upstream_is_generic_500() -> None:
    with LocalNode(NodeConfig(upstream="http://127.0.0.1:9/v1", upstream_timeout=2)) as node:
        for client in make_client(node):
            assert error_of(client.post(CHAT, client.seal(chat_body()))) == (
                500,
                "INTERNAL_ERROR",
                GENERIC_500,
            )
            sealed = client.seal(chat_body(), stream=True)
            assert error_of(client.post(CHAT, sealed)) == (500, "INTERNAL_ERROR", GENERIC_500)
