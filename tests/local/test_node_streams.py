"""Confidential stream framing: bare data objects, keep-alives, usage chunk last, no [DONE], nonce reuse."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from atoma_sdk.local import LocalNode, NodeConfig, model

from .conftest import make_client
from .support import CHAT, CHAT_MODEL, Client, chat_body, parse_sse


def _decrypted(client: Client, sealed: object, events: list) -> list[bytes]:  # type: ignore[type-arg]
    return [client.open(sealed.session, e.json()) for e in events if e.kind == "data"]  # type: ignore[attr-defined]


def test_stream_framing(client: Client) -> None:
    sealed, events = client.stream(CHAT, chat_body("stream please", max_tokens=6), num_compute_units=6)
    kinds = [e.kind for e in events]
    assert "data" in kinds  # keep-alives may come anywhere, even after the last event (as upstream)
    assert all(e.text == ": keep-alive" for e in events if e.kind == "comment")
    assert all(e.text != "[DONE]" for e in events)
    data = [e.json() for e in events if e.kind == "data"]
    assert all(
        list(d)[:2] == ["ciphertext", "nonce"] and list(d)[-2:] == ["signature", "response_hash"]
        for d in data
    )
    assert all("usage" not in d for d in data[:-1])
    chunks = [json.loads(p) for p in _decrypted(client, sealed, events)]
    *content, usage_chunk = chunks
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] == 6
    assert data[-1]["usage"] == usage_chunk["usage"]
    # vLLM's shape: a role-only first chunk, then text chunks (some empty, some with several tokens).
    assert content[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("role" not in c["choices"][0]["delta"] for c in content[1:])
    assert [c["choices"][0]["finish_reason"] for c in content] == [None] * (len(content) - 1) + ["length"]
    texts = [c["choices"][0]["delta"]["content"] for c in content[1:]]
    assert "" in texts and len([t for t in texts if t]) < 6
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and {c["model"] for c in chunks} == {CHAT_MODEL}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_stream_without_limit_ends_with_an_eos_chunk_counted_in_usage(client: Client) -> None:
    sealed, events = client.stream(CHAT, chat_body("no limit"))
    *content, usage_chunk = [json.loads(p) for p in _decrypted(client, sealed, events)]
    assert content[-1]["choices"][0]["delta"] == {"content": ""}
    assert content[-1]["choices"][0]["finish_reason"] == "stop"
    counted = sum(1 for c in content if c["choices"][0]["delta"].get("content"))
    assert counted < usage_chunk["usage"]["completion_tokens"] == model.DEFAULT_MAX_TOKENS
    _, whole = client.call(CHAT, chat_body("no limit"))
    text = "".join(c["choices"][0]["delta"]["content"] for c in content)
    assert text == whole["choices"][0]["message"]["content"]
    assert whole["usage"]["completion_tokens"] == model.DEFAULT_MAX_TOKENS


def test_keep_alives_while_idle_also_before_the_first_event() -> None:
    with LocalNode(NodeConfig(token_delay=0.1)) as node:
        for client in make_client(node):
            _, events = client.stream(CHAT, chat_body(max_tokens=2), num_compute_units=2)
    kinds = [e.kind for e in events]
    # Each chunk takes 100 ms; a comment goes out after every 15 ms without an event.
    assert kinds[0] == "comment" and kinds.count("comment") >= 2
    assert kinds.count("data") == 4  # role, two tokens, usage
    assert all(e.text == ": keep-alive" for e in events if e.kind == "comment")


def test_keep_alive_off() -> None:
    with LocalNode(NodeConfig(token_delay=0.05, keep_alive=False)) as node:
        for client in make_client(node):
            _, events = client.stream(CHAT, chat_body(max_tokens=2), num_compute_units=2)
            response = client.http.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=1))
    assert [e.kind for e in events] == ["data"] * 4
    assert [e.kind for e in parse_sse(response.text)] == ["data"] * 3


def test_plaintext_streams_get_keep_alives_too() -> None:
    with LocalNode(NodeConfig(token_delay=0.05)) as node:
        for client in make_client(node):
            response = client.http.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=1))
    events = parse_sse(response.text)
    assert events[0].kind == "comment"
    assert [e.json()["choices"] for e in events if e.kind == "data"][-1] == []  # the usage chunk, no [DONE]


def test_chunk_plaintext_is_compact_vllm_shape(client: Client) -> None:
    sealed, events = client.stream(CHAT, chat_body())
    first = _decrypted(client, sealed, events)[0]
    assert b" " not in first.split(b'"content":')[0]  # compact separators
    assert list(json.loads(first)) == ["id", "object", "created", "model", "choices", "usage"]
    assert list(json.loads(first)["choices"][0]) == ["index", "delta", "logprobs", "finish_reason"]


def test_one_nonce_per_stream_by_default(client: Client) -> None:
    _sealed, events = client.stream(CHAT, chat_body())
    nonces = {e.json()["nonce"] for e in events if e.kind == "data"}
    assert len(nonces) == 1
    _, again = client.stream(CHAT, chat_body())
    assert {e.json()["nonce"] for e in again if e.kind == "data"} != nonces


def test_repeated_tokens_give_byte_identical_chunks(client: Client) -> None:
    sealed, events = client.stream(CHAT, chat_body("repeat"))
    plaintexts = _decrypted(client, sealed, events)
    assert len(set(plaintexts)) < len(plaintexts)  # the model always repeats its third token
    assert plaintexts[2] == plaintexts[3]  # (the first chunk carries the role only)
    data = [e.json() for e in events if e.kind == "data"]
    assert data[2] == data[3]  # same key, same nonce, same bytes: identical envelopes too


@pytest.fixture
def unique_client() -> Iterator[Client]:
    with LocalNode(NodeConfig(unique_chunk_nonces=True, keep_alive=False)) as node:
        yield from make_client(node)


def test_unique_chunk_nonces_switch(unique_client: Client) -> None:
    sealed, events = unique_client.stream(CHAT, chat_body())
    assert all(e.kind == "data" for e in events)  # keep_alive=False
    nonces = [e.json()["nonce"] for e in events]
    assert len(set(nonces)) == len(nonces)
    _decrypted(unique_client, sealed, events)


def test_outer_stream_false_gives_json_even_for_streaming_inner(client: Client) -> None:
    sealed = client.seal(chat_body(), stream=False)
    response = client.post(CHAT, {**sealed.body, "stream": None})
    assert response.headers["content-type"] == "application/json"


def test_n_choices_stream(client: Client) -> None:
    sealed, events = client.stream(CHAT, chat_body(n=2, max_tokens=3), num_compute_units=3)
    chunks = [json.loads(p) for p in _decrypted(client, sealed, events)]
    finished = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert sorted(c["index"] for c in finished) == [0, 1]
    assert chunks[-1]["usage"]["completion_tokens"] == 6


def test_client_leaving_mid_stream_cancels_the_stream(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    sealed = client.seal(
        chat_body(max_tokens=3000), client.lock(max_num_tokens=3000), stream=True, num_compute_units=3000
    )
    with client.http.stream("POST", CHAT, json={**sealed.body}) as response:
        next(response.iter_lines())
    # The node keeps serving, and did not keep writing thousands of chunks into the closed socket.
    for _ in range(3):
        client.call(CHAT, chat_body())
    assert not [r for r in caplog.records if "socket.send() raised exception" in r.getMessage()]
