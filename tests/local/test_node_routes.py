"""Every route of the local node over a real loopback socket, acting as the client."""

from __future__ import annotations

import json

import httpx
import pytest

from atoma_sdk.confidential.envelope import ClientSession, b64e, body_hash
from atoma_sdk.errors import IntegrityError
from atoma_sdk.local import LocalNode, NodeConfig, model

from .conftest import make_client
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
    error_of,
    parse_sse,
)

GENERIC_500 = "Inference service returned status code error 500 Internal Server Error"


def test_health_needs_no_token(node: LocalNode) -> None:
    response = httpx.get(node.url + "/health")
    assert response.status_code == 200
    assert response.json() == {"message": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/models"), ("POST", "/v1/nodes/lock"), ("POST", CHAT), ("POST", "/v1/chat/completions")],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong", "bearer {key}", "{key}"])
def test_bearer_token_is_required(node: LocalNode, method: str, path: str, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header.format(key=node.api_key)}
    response = httpx.request(method, node.url + path, headers=headers, json={"model": CHAT_MODEL})
    assert error_of(response) == (401, "AUTH_ERROR", "Authentication failed")


def test_models_lists_served_models(client: Client) -> None:
    body = client.http.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == [CHAT_MODEL, EMBEDDING_MODEL, IMAGE_MODEL]
    assert all(m["object"] == "model" and "owned_by" in m and "created" in m for m in body["data"])


def test_lock_response_shape(client: Client, node: LocalNode) -> None:
    response = client.http.post("/v1/nodes/lock", json={"model": CHAT_MODEL})
    assert list(response.json()) == ["public_key", "node_small_id", "stack_entry_digest", "stack_small_id"]
    assert response.json()["public_key"] == node.public_key
    assert response.json()["stack_entry_digest"] is None
    assert isinstance(response.json()["stack_small_id"], int)


def test_lock_unknown_model_is_503(client: Client) -> None:
    response = client.http.post("/v1/nodes/lock", json={"model": "nope/none"})
    assert error_of(response) == (503, "SERVICE_UNAVAILABLE", "Service unavailable")


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"model": 3}', b'{"model":"m","max_num_tokens":-1}'])
def test_lock_bad_body_is_400(client: Client, body: bytes) -> None:
    response = client.http.post("/v1/nodes/lock", content=body)
    assert error_of(response)[:2] == (400, "REQUEST_ERROR")


def test_confidential_chat_round_trip(client: Client) -> None:
    envelope, answer = client.call(CHAT, chat_body("What is a TEE?"))
    assert list(envelope) == ["nonce", "ciphertext", "response_hash", "signature", "usage"]
    assert answer["object"] == "chat.completion"
    assert answer["model"] == CHAT_MODEL
    [choice] = answer["choices"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    assert envelope["usage"] == answer["usage"]
    assert answer["usage"]["completion_tokens"] == 16


def test_answers_are_deterministic_in_prompt_and_seed(client: Client) -> None:
    def text(**kwargs: object) -> str:
        _, answer = client.call(CHAT, chat_body(**kwargs))  # type: ignore[arg-type]
        return str(answer["choices"][0]["message"]["content"])

    assert text(content="a") == text(content="a")
    assert text(content="a") != text(content="b")
    assert text(content="a", seed=1) != text(content="a", seed=2)


def test_max_tokens_and_n(client: Client) -> None:
    _, answer = client.call(CHAT, chat_body(max_tokens=5, n=2), num_compute_units=5)
    assert [c["finish_reason"] for c in answer["choices"]] == ["length", "length"]
    assert answer["usage"]["completion_tokens"] == 10


def test_response_nonces_are_fresh_per_answer(client: Client) -> None:
    first, _ = client.call(CHAT, chat_body())
    second, _ = client.call(CHAT, chat_body())
    assert first["nonce"] != second["nonce"]


def test_lock_is_consumed_by_one_request(client: Client) -> None:
    lock = client.lock()
    first = client.seal(chat_body(), lock)
    second = client.seal(chat_body(), lock)
    assert client.post(CHAT, first).status_code == 200
    assert error_of(client.post(CHAT, second)) == (425, "UNAVAILABLE_STACK", "Stack unavailable")
    client.lock()
    assert client.post(CHAT, second).status_code == 200


def test_expired_lock_is_not_usable(client: Client) -> None:
    lock = client.lock(timeout=0)
    assert error_of(client.post(CHAT, client.seal(chat_body(), lock)))[0] == 425


@pytest.mark.parametrize(
    ("locked", "units", "status"),
    [(100, None, 425), (100, 100, 200), (100, 101, 425), (None, 8192, 200), (None, 8193, 425), (0, 0, 200)],
)
def test_lock_amount_must_cover_compute_units(
    client: Client, locked: int | None, units: int | None, status: int
) -> None:
    lock = client.lock(**({} if locked is None else {"max_num_tokens": locked}))
    outer = {} if units is None else {"num_compute_units": units}
    assert client.post(CHAT, client.seal(chat_body(), lock, **outer)).status_code == status


def test_unknown_stack_is_404(client: Client) -> None:
    lock = client.lock()
    response = client.post(CHAT, client.seal(chat_body(), {**lock, "stack_small_id": 9}))
    assert error_of(response) == (404, "NOT_FOUND", "Resource not found")  # no node address for it


def test_known_stack_without_a_lock_is_425(client: Client) -> None:
    lock = client.lock()
    assert client.post(CHAT, client.seal(chat_body(), lock)).status_code == 200
    assert error_of(client.post(CHAT, client.seal(chat_body(), lock)))[:2] == (425, "UNAVAILABLE_STACK")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"ciphertext": "x"}'],
)
def test_unparseable_outer_request_is_400(client: Client, body: bytes) -> None:
    response = client.http.post(CHAT, content=body)
    status, code, message = error_of(response)
    assert (status, code) == (400, "REQUEST_ERROR")
    assert message.startswith("Request error: Failed to parse body as JSON")


@pytest.mark.parametrize(
    "override",
    [{"stack_small_id": -1}, {"stack_small_id": "1"}, {"stream": "yes"}, {"num_compute_units": 1.5}],
)
def test_badly_typed_outer_fields_are_400(client: Client, override: dict[str, object]) -> None:
    sealed = client.seal(chat_body())
    assert error_of(client.post(CHAT, {**sealed.body, **override}))[:2] == (400, "REQUEST_ERROR")


def test_hash_not_base64_is_400_and_keeps_the_lock(client: Client) -> None:
    sealed = client.seal(chat_body())
    response = client.post(CHAT, {**sealed.body, "plaintext_body_hash": "!!"})
    assert error_of(response) == (400, "REQUEST_ERROR", "Request error: Hash is not base64")
    assert client.post(CHAT, sealed).status_code == 200


def test_body_hash_mismatch_is_500_bad_request(client: Client) -> None:
    sealed = client.seal(chat_body())
    wrong = b64e(body_hash(b"something else"))
    assert error_of(client.post(CHAT, {**sealed.body, "plaintext_body_hash": wrong})) == (
        500,
        "INTERNAL_ERROR",
        "Bad Request",
    )


def test_bad_body_hash_length_is_500_bad_request(client: Client) -> None:
    sealed = client.seal(chat_body())
    assert error_of(client.post(CHAT, {**sealed.body, "plaintext_body_hash": b64e(bytes(31))})) == (
        500,
        "INTERNAL_ERROR",
        "Bad Request",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("salt", b64e(bytes(8))),
        ("nonce", b64e(bytes(16))),
        ("client_dh_public_key", b64e(bytes(31))),
        ("ciphertext", "abc"),
    ],
)
def test_bad_decryption_inputs_are_generic_500(client: Client, field: str, value: str) -> None:
    # The node maps every error of its decryption step to 500 (protocol.md §12.3), not to 400.
    sealed = client.seal(chat_body())
    assert error_of(client.post(CHAT, {**sealed.body, field: value})) == (500, "INTERNAL_ERROR", GENERIC_500)


def test_tampered_ciphertext_is_generic_500(client: Client) -> None:
    sealed = client.seal(chat_body())
    other = client.seal(chat_body("other"), client.lock())
    body = {**sealed.body, "ciphertext": other.body["ciphertext"]}
    assert error_of(client.post(CHAT, body)) == (500, "INTERNAL_ERROR", GENERIC_500)


def test_stale_node_key_is_generic_500(client: Client, node: LocalNode) -> None:
    lock = client.lock()
    new_key = node.rotate_key()
    assert new_key != lock["public_key"]
    assert error_of(client.post(CHAT, client.seal(chat_body(), lock))) == (500, "INTERNAL_ERROR", GENERIC_500)
    fresh = client.lock()
    assert fresh["public_key"] == new_key
    assert client.post(CHAT, client.seal(chat_body(), fresh)).status_code == 200


@pytest.mark.parametrize(
    "inner",
    [
        b"not json",
        b"[1]",
        json.dumps({"messages": [], "model": CHAT_MODEL}).encode(),
        json.dumps({"messages": [{"role": "user", "content": "x"}], "model": "other"}).encode(),
    ],
)
def test_bad_inner_request_is_500_bad_request(client: Client, inner: bytes) -> None:
    assert error_of(client.post(CHAT, client.seal(inner))) == (500, "INTERNAL_ERROR", "Bad Request")


def test_error_messages_never_echo_secrets(client: Client) -> None:
    sealed = client.seal(chat_body("CANARY-123"))
    for body in ({**sealed.body, "salt": "CANARY"}, {**sealed.body, "stack_small_id": "CANARY"}):
        assert "CANARY" not in client.post(CHAT, body).text


def test_confidential_completions(client: Client) -> None:
    envelope, answer = client.call(
        COMPLETIONS, {"model": CHAT_MODEL, "prompt": "Once upon", "max_tokens": 4}, num_compute_units=4
    )
    assert answer["object"] == "text_completion"
    assert answer["choices"][0]["finish_reason"] == "length"
    assert envelope["usage"]["completion_tokens"] == 4


def test_confidential_completions_stream_delivers_no_chunk_by_default(client: Client) -> None:
    # The proxy drops every chunk of a confidential completions stream (protocol.md §12.1): a 200,
    # keep-alives only, then the end of the body; the lock was spent all the same.
    sealed = client.seal({"model": CHAT_MODEL, "prompt": "Once"}, stream=True)
    response = client.post(COMPLETIONS, sealed)
    assert response.status_code == 200
    assert all(e.kind == "comment" and e.text == ": keep-alive" for e in parse_sse(response.text))
    assert client.post(COMPLETIONS, sealed).status_code == 425


def test_confidential_completions_stream_when_the_quirk_is_off() -> None:
    with LocalNode(NodeConfig(completions_stream_quirk=False)) as node:
        for client in make_client(node):
            sealed, events = client.stream(COMPLETIONS, {"model": CHAT_MODEL, "prompt": "Once"})
            chunks = [json.loads(client.open(sealed.session, e.json())) for e in events if e.kind == "data"]
            assert all(c["object"] == "text_completion" for c in chunks)
            *content, usage = chunks
            assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == model.DEFAULT_MAX_TOKENS
            assert sum(1 for c in content if c["choices"][0]["text"]) < usage["usage"]["completion_tokens"]
            assert content[-1]["choices"][0] == {
                "index": 0,
                "text": "",
                "logprobs": None,
                "finish_reason": "stop",
            }


def test_non_streamed_confidential_completions_are_delivered(client: Client) -> None:
    envelope, answer = client.call(COMPLETIONS, {"model": CHAT_MODEL, "prompt": "Once"})
    assert answer["object"] == "text_completion" and envelope["usage"] == answer["usage"]


def test_confidential_embeddings(client: Client) -> None:
    lock = client.lock(EMBEDDING_MODEL)
    inner = {"model": EMBEDDING_MODEL, "input": ["a", "b c"], "dimensions": 8}
    envelope, answer = client.call(EMBEDDINGS, inner, lock=lock)
    assert answer["object"] == "list" and answer["model"] == EMBEDDING_MODEL
    assert [d["index"] for d in answer["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 8 and d["object"] == "embedding" for d in answer["data"])
    assert answer["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert envelope["usage"] == answer["usage"]


def test_confidential_embeddings_base64(client: Client) -> None:
    inner = {"model": EMBEDDING_MODEL, "input": "a", "encoding_format": "base64", "dimensions": 4}
    _, answer = client.call(EMBEDDINGS, inner)
    assert isinstance(answer["data"][0]["embedding"], str)


def test_confidential_images(client: Client) -> None:
    lock = client.lock(IMAGE_MODEL, max_num_tokens=512 * 512 * 2)
    inner = {"model": IMAGE_MODEL, "prompt": "an otter", "n": 2, "size": "512x512"}
    _, answer = client.call(IMAGES, inner, lock=lock, num_compute_units=512 * 512 * 2)
    assert isinstance(answer["created"], int)
    assert [d["url"].startswith("data:image/png;base64,") for d in answer["data"]] == [True, True]
    _, b64 = client.call(
        IMAGES,
        {**inner, "response_format": "b64_json", "n": 1},
        lock=client.lock(IMAGE_MODEL, max_num_tokens=512 * 512),
        num_compute_units=512 * 512,
    )
    assert "b64_json" in b64["data"][0]


def test_images_default_units_are_a_megapixel(client: Client) -> None:
    inner = {"model": IMAGE_MODEL, "prompt": "x"}
    assert client.post(IMAGES, client.seal(inner, client.lock(IMAGE_MODEL))).status_code == 425
    lock = client.lock(IMAGE_MODEL, max_num_tokens=1024 * 1024)
    assert client.post(IMAGES, client.seal(inner, lock)).status_code == 200


def test_plaintext_chat(client: Client) -> None:
    answer = client.http.post("/v1/chat/completions", json=chat_body()).json()
    assert answer["object"] == "chat.completion"


def test_plaintext_chat_stream_ends_without_done(client: Client) -> None:
    # The proxy consumes the engine's [DONE] on plaintext streams too (protocol.md §12.4).
    response = client.http.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=3))
    events = [e for e in parse_sse(response.text) if e.kind == "data"]
    assert all(e.text != "[DONE]" for e in events)
    chunks = [e.json() for e in events]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks[:-1]).count(" ") == 2  # 3 words
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_plaintext_unknown_model_is_400(client: Client) -> None:
    response = client.http.post("/v1/chat/completions", json={**chat_body(), "model": "zzz"})
    assert error_of(response)[:2] == (400, "REQUEST_ERROR")


def test_unknown_route_is_json_404(client: Client) -> None:
    assert error_of(client.http.get("/v1/nothing-here"))[:2] == (404, "NOT_FOUND")


def test_wrong_client_key_cannot_read_the_answer(client: Client) -> None:
    sealed = client.seal(chat_body())
    envelope = client.post(CHAT, sealed).json()
    stranger = ClientSession.create(client.node.public_key)
    with pytest.raises(IntegrityError):
        stranger.decrypt(envelope["ciphertext"], envelope["nonce"])
