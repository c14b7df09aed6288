"""The default node plays today's upstream (protocol.md §12): statuses, defaults, routes, stream shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk.confidential import sui
from atoma_sdk.confidential.envelope import b64e, body_hash
from atoma_sdk.confidential.sui import SuiKeyPair
from atoma_sdk.local import LocalNode, model

from .support import (
    CHAT,
    CHAT_MODEL,
    COMPLETIONS,
    EMBEDDING_MODEL,
    EMBEDDINGS,
    IMAGE_MODEL,
    IMAGES,
    Client,
    chat_body,
    dumps,
    error_of,
    parse_sse,
)

OPENAPI = Path(__file__).resolve().parents[2] / ".speakeasy" / "openapi.yml"


@pytest.mark.parametrize(
    ("route", "inner"),
    [
        (CHAT, chat_body(stream_options={"include_usage": True})),
        (CHAT, chat_body(stream=False, stream_options={"include_usage": True})),
        (COMPLETIONS, {"model": CHAT_MODEL, "prompt": "x", "stream_options": {"include_usage": True}}),
    ],
)
def test_stream_options_without_stream_is_500_bad_request(
    client: Client, route: str, inner: dict[str, Any]
) -> None:
    # vLLM refuses it (400); the proxy turns the node's 400 into 500 "Bad Request".
    plaintext = dumps(inner)  # exactly as given: "stream" absent or false
    sealed = client.seal(plaintext, client.lock(CHAT_MODEL))
    sealed.body["model_name"] = CHAT_MODEL
    assert error_of(client.post(route, sealed)) == (500, "INTERNAL_ERROR", "Bad Request")


def test_stream_options_with_stream_is_fine(client: Client) -> None:
    _, events = client.stream(CHAT, chat_body(stream_options={"include_usage": True}))
    assert [e for e in events if e.kind == "data"]


def test_lock_for_an_unserved_model_is_the_proxys_503(client: Client) -> None:
    # The proxy logs "No node found for model X ..." but sends its generic client message.
    response = client.http.post("/v1/nodes/lock", json={"model": "no/such-model"})
    assert error_of(response) == (503, "SERVICE_UNAVAILABLE", "Service unavailable")


def test_fiat_payments_only_shape(client: Client, node: LocalNode) -> None:
    node.faults.fail_next(status=400, code="FIAT_PAYMENTS_ONLY", route="/v1/chat/completions")
    response = client.http.post("/v1/chat/completions", json=chat_body())
    assert response.json() == {
        "error": {"code": "FIAT_PAYMENTS_ONLY", "message": "Only fiat payments are supported"}
    }
    assert response.status_code == 400
    assert client.http.post("/v1/chat/completions", json=chat_body()).status_code == 200


def test_fiat_payments_only_over_the_admin_route(client: Client, node: LocalNode) -> None:
    admin = {"authorization": f"Bearer {node.admin_token}"}
    spec = {"kind": "fail", "status": 400, "code": "FIAT_PAYMENTS_ONLY"}
    assert httpx.post(node.url + "/_admin/faults", json=spec, headers=admin).status_code == 200
    assert error_of(client.http.post("/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": "x"})) == (
        400,
        "FIAT_PAYMENTS_ONLY",
        "Only fiat payments are supported",
    )
    bad = {"kind": "fail", "code": 7}
    assert httpx.post(node.url + "/_admin/faults", json=bad, headers=admin).status_code == 400


def test_embeddings_default_units_are_8192(client: Client) -> None:
    inner = {"model": EMBEDDING_MODEL, "input": "x"}
    small = client.lock(EMBEDDING_MODEL, max_num_tokens=100)
    assert error_of(client.post(EMBEDDINGS, client.seal(inner, small)))[:2] == (425, "UNAVAILABLE_STACK")
    assert client.post(EMBEDDINGS, client.seal(inner, client.lock(EMBEDDING_MODEL))).status_code == 200
    fitting = client.lock(EMBEDDING_MODEL, max_num_tokens=100)
    assert client.post(EMBEDDINGS, client.seal(inner, fitting, num_compute_units=100)).status_code == 200


def test_sealed_image_answers_have_no_usage_key(client: Client) -> None:
    lock = client.lock(IMAGE_MODEL, max_num_tokens=1024 * 1024)
    envelope, answer = client.call(IMAGES, {"model": IMAGE_MODEL, "prompt": "x"}, lock=lock)
    assert list(envelope) == ["nonce", "ciphertext", "response_hash", "signature"]
    assert "usage" not in answer
    chat_envelope, _ = client.call(CHAT, chat_body())
    assert list(chat_envelope) == ["nonce", "ciphertext", "response_hash", "signature", "usage"]


def _operations() -> list[tuple[str, str, str]]:
    document = yaml.safe_load(OPENAPI.read_text())
    return [
        (method.upper(), path.split("#")[0], spec["operationId"])
        for path, item in document["paths"].items()
        for method, spec in item.items()
    ]


def test_every_openapi_operation_has_a_route(client: Client) -> None:
    operations = _operations()
    assert {"open_router_models_list", "nodes_create"} <= {op for *_, op in operations}
    for method, path, operation in operations:
        response = client.http.request(method, path, json={} if method == "POST" else None)
        assert response.status_code not in (404, 405), operation  # a route answered (even if 4xx/5xx)


def test_open_router_models_need_no_token(node: LocalNode) -> None:
    response = httpx.get(node.url + "/v1/open_router/models")
    assert response.status_code == 200
    entries = response.json()["data"]
    assert [e["id"] for e in entries] == list(node.config.models)
    assert {"id", "name", "created", "context_length", "pricing"} <= set(entries[0])


def _registration(signer: SuiKeyPair, node_small_id: int = 1) -> dict[str, Any]:
    data = {"node_small_id": node_small_id, "public_address": "https://node.example", "country": "CH"}
    return {"data": data, "signature": signer.sign_hash(body_hash(dumps(data)))}


def test_nodes_create_accepts_the_nodes_own_signature(node: LocalNode) -> None:
    response = httpx.post(node.url + "/v1/nodes", json=_registration(node.state.signer))
    assert (response.status_code, response.json()) == (200, {"message": "Success"})


def test_nodes_create_refuses_other_signers_and_unknown_nodes(node: LocalNode) -> None:
    stranger = httpx.post(node.url + "/v1/nodes", json=_registration(SuiKeyPair.generate()))
    assert error_of(stranger)[:2] == (400, "REQUEST_ERROR")
    unknown = httpx.post(node.url + "/v1/nodes", json=_registration(node.state.signer, node_small_id=99))
    assert error_of(unknown)[:2] == (404, "NOT_FOUND")
    forged = _registration(node.state.signer)
    forged["data"]["public_address"] = "https://evil.example"
    assert error_of(httpx.post(node.url + "/v1/nodes", json=forged))[:2] == (400, "REQUEST_ERROR")
    assert error_of(httpx.post(node.url + "/v1/nodes", json={"data": 1}))[:2] == (400, "REQUEST_ERROR")


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, model.MAX_CHOICES),
    max_tokens=st.none() | st.integers(1, 300),
    prompt=st.text(max_size=20),
    seed=st.none() | st.integers(0, 2**31),
    completions=st.booleans(),
)
def test_honest_streams_never_have_more_text_chunks_than_tokens(
    n: int, max_tokens: int | None, prompt: str, seed: int | None, completions: bool
) -> None:
    """The bound an SDK may check (protocol.md §12.2) holds for every built-in stream, per choice too."""
    if completions:
        body: dict[str, Any] = {"model": CHAT_MODEL, "prompt": prompt, "n": n, "seed": seed}
        chunks, whole = model.text_completion_chunks, model.text_completion
    else:
        body = chat_body(prompt, n=n, seed=seed)
        chunks, whole = model.chat_completion_chunks, model.chat_completion
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    streamed, answer = chunks(body), whole(body)
    usage = streamed[-1]["usage"]
    assert streamed[-1]["choices"] == [] and usage == answer["usage"]
    counted, texts = [0] * n, [""] * n
    for chunk in streamed[:-1]:
        (choice,) = chunk["choices"]
        text = choice["text"] if completions else choice["delta"]["content"]
        counted[choice["index"]] += bool(text)
        texts[choice["index"]] += text
    assert sum(counted) <= usage["completion_tokens"]
    assert max_tokens is None or max(counted) <= max_tokens
    key = "text" if completions else "message"
    assert texts == [c["text"] if completions else c[key]["content"] for c in answer["choices"]]
    if not completions:  # one role-only chunk per choice, before any text
        assert [c["choices"][0]["delta"] for c in streamed[:n]] == [{"role": "assistant", "content": ""}] * n


def test_completions_stream_has_no_role_chunk_and_joins_like_chat() -> None:
    body = {"model": CHAT_MODEL, "prompt": "x", "max_tokens": 12}
    chunks = model.text_completion_chunks(body)
    texts = [c["choices"][0]["text"] for c in chunks[:-1]]
    assert texts[0] and "" in texts and len([t for t in texts if t]) < 12
    assert "".join(texts) == model.text_completion(body)["choices"][0]["text"]
    assert json.dumps(chunks[-1]["usage"]) == json.dumps(model.text_completion(body)["usage"])


def test_plaintext_answers_and_chunks_carry_the_nodes_signature(client: Client, node: LocalNode) -> None:
    def check(answer: dict[str, Any]) -> None:
        assert list(answer)[-2:] == ["signature", "response_hash"]
        digest = body_hash(
            dumps({k: v for k, v in answer.items() if k not in ("signature", "response_hash")})
        )
        assert sui.verify(answer["signature"], digest).address == node.signer_address
        assert answer["response_hash"] == b64e(digest)

    check(client.http.post("/v1/chat/completions", json=chat_body()).json())
    check(client.http.post("/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": "x"}).json())
    stream = client.http.post("/v1/completions", json={"model": CHAT_MODEL, "prompt": "x", "stream": True})
    data = [e.json() for e in parse_sse(stream.text) if e.kind == "data"]
    assert len(data) > 2
    for chunk in data:
        check(chunk)
