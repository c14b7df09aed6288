"""The transports on the wire: exact bodies and headers, as any httpx / httpx2 client sees them."""

from __future__ import annotations

import importlib
import json
import warnings
from typing import Any

import httpx
import pytest
from openai_helpers import CHAT_MODEL, CONFIDENTIAL_CHAT

from atoma_sdk.confidential.policy import ConfidentialityWarning, VerificationPolicy
from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.openai import AsyncConfidentialTransport, ConfidentialTransport

MESSAGES: list[Any] = [{"role": "user", "content": "wire shape"}]


def post(node: LocalNode, transport: Any, body: dict[str, Any], library: Any = httpx) -> Any:
    with library.Client(transport=transport) as client:
        return client.post(
            f"{node.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {node.api_key}"}
        )


def events(text: str) -> list[str]:
    frames = text.split("\n\n")
    assert frames[-1] == ""
    assert all(frame.startswith("data: ") for frame in frames[:-1])
    return [frame[len("data: ") :] for frame in frames[:-1]]


def test_json_answer_headers_fit_the_body(node: LocalNode) -> None:
    response = post(node, ConfidentialTransport(), {"model": CHAT_MODEL, "messages": MESSAGES})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert "content-encoding" not in response.headers
    assert response.json()["object"] == "chat.completion"


@pytest.mark.parametrize("include_usage", [False, True])
def test_sse_answer_frames_and_done(node: LocalNode, include_usage: bool) -> None:
    body: dict[str, Any] = {"model": CHAT_MODEL, "messages": MESSAGES, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    response = post(node, ConfidentialTransport(), body)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in response.headers and "content-encoding" not in response.headers
    data = events(response.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    usage_chunks = [chunk for chunk in chunks if chunk["choices"] == []]
    assert len(usage_chunks) == (1 if include_usage else 0)
    if include_usage:
        assert chunks[-1] is usage_chunks[0] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert len({chunk["id"] for chunk in chunks}) == 1


def test_buffered_streams_keep_the_openai_shape(node: LocalNode) -> None:
    transport = ConfidentialTransport(verification=VerificationPolicy(nonce_reuse="buffer"))
    body = {"model": CHAT_MODEL, "messages": MESSAGES, "stream": True}
    body["stream_options"] = {"include_usage": True}
    data = events(post(node, transport, body).text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert chunks[0]["object"] == "chat.completion.chunk" and chunks[0]["choices"][0]["delta"]["content"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_nonce_reuse_follows_the_policy() -> None:
    with LocalNode(NodeConfig(unique_chunk_nonces=False)) as reusing:
        body = {"model": CHAT_MODEL, "messages": MESSAGES, "stream": True}
        with pytest.warns(ConfidentialityWarning):
            assert events(post(reusing, ConfidentialTransport(), body).text)[-1] == "[DONE]"
        strict = ConfidentialTransport(verification=VerificationPolicy(nonce_reuse="raise"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            data = events(post(reusing, strict, body).text)
        assert "[DONE]" not in data
        assert json.loads(data[-1])["error"]["code"] == "nonce_reuse_error"


def test_httpx2_flavour_on_the_wire(node: LocalNode) -> None:
    httpx2 = pytest.importorskip("httpx2")
    flavour = importlib.import_module("atoma_sdk.openai._httpx2")
    transport = flavour.Httpx2ConfidentialTransport()
    streamed = post(node, transport, {"model": CHAT_MODEL, "messages": MESSAGES, "stream": True}, httpx2)
    assert isinstance(streamed, httpx2.Response)
    assert events(streamed.text)[-1] == "[DONE]"
    models = httpx2.Client(transport=flavour.Httpx2ConfidentialTransport()).get(
        f"{node.url}/v1/models", headers={"Authorization": f"Bearer {node.api_key}"}
    )
    assert models.status_code == 200 and models.json()["object"] == "list"


def test_httpx2_flavour_maps_connection_errors(node: LocalNode) -> None:
    httpx2 = pytest.importorskip("httpx2")
    flavour = importlib.import_module("atoma_sdk.openai._httpx2")
    with httpx2.Client(transport=flavour.Httpx2ConfidentialTransport()) as client, pytest.raises(
        httpx2.ConnectError
    ):
        client.post("http://127.0.0.1:9/v1/chat/completions", json={"model": CHAT_MODEL, "messages": []})


def test_tampered_stream_chunk_ends_with_an_error_event(node: LocalNode) -> None:
    node.faults.corrupt_chunk(2, route=CONFIDENTIAL_CHAT)
    body = {"model": CHAT_MODEL, "messages": MESSAGES, "stream": True}
    data = events(post(node, ConfidentialTransport(), body).text)
    assert len(data) == 3
    assert json.loads(data[-1])["error"]["code"] == "integrity_error"


@pytest.mark.anyio
async def test_async_transport_on_the_wire(node: LocalNode) -> None:
    async with httpx.AsyncClient(transport=AsyncConfidentialTransport()) as client:
        response = await client.post(
            f"{node.url}/v1/chat/completions",
            json={"model": CHAT_MODEL, "messages": MESSAGES, "stream": True},
            headers={"Authorization": f"Bearer {node.api_key}"},
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events(response.text)[-1] == "[DONE]"


@pytest.mark.anyio
async def test_async_httpx2_flavour(node: LocalNode) -> None:
    httpx2 = pytest.importorskip("httpx2")
    flavour = importlib.import_module("atoma_sdk.openai._httpx2")
    async with httpx2.AsyncClient(transport=flavour.AsyncHttpx2ConfidentialTransport()) as client:
        response = await client.post(
            f"{node.url}/v1/chat/completions",
            json={"model": CHAT_MODEL, "messages": MESSAGES},
            headers={"Authorization": f"Bearer {node.api_key}"},
        )
    assert response.status_code == 200 and response.json()["object"] == "chat.completion"
