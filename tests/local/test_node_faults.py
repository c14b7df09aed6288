"""Fault injection, in-process (node.faults) and over the admin route, over real loopback sockets."""

from __future__ import annotations

import json

import httpx
import pytest

from atoma_sdk.confidential.envelope import b64d, body_hash
from atoma_sdk.errors import IntegrityError
from atoma_sdk.local import Faults, LocalNode
from atoma_sdk.local.faults import FaultSpecError

from .support import CHAT, Client, chat_body, error_of, parse_sse

GENERIC_500 = "Inference service returned status code error 500 Internal Server Error"


def test_fail_next_n_with_retry_after(client: Client, node: LocalNode) -> None:
    node.faults.fail_next(2, status=503, retry_after=1)
    for _ in range(2):
        response = client.http.get("/health")
        assert error_of(response) == (503, "SERVICE_UNAVAILABLE", "Service unavailable")
        assert response.headers["retry-after"] == "1"
    assert client.http.get("/health").status_code == 200
    assert node.faults.pending() == []


def test_fail_on_a_chosen_route_only(client: Client, node: LocalNode) -> None:
    node.faults.fail_next(status=429, route="/v1/nodes/lock", message="slow down")
    assert client.http.get("/health").status_code == 200
    response = client.http.post("/v1/nodes/lock", json={"model": chat_body()["model"]})
    assert error_of(response) == (429, "TOO_MANY_REQUESTS", "slow down")
    assert "retry-after" not in response.headers
    assert client.lock()["public_key"] == node.public_key


def test_failed_confidential_request_leaves_its_lock(client: Client, node: LocalNode) -> None:
    sealed = client.seal(chat_body())
    node.faults.fail_next(status=502, route=CHAT)
    assert error_of(client.post(CHAT, sealed))[:2] == (502, "INTERNAL_ERROR")
    assert client.post(CHAT, sealed).status_code == 200


def test_unauthenticated_requests_do_not_consume_faults(node: LocalNode, client: Client) -> None:
    node.faults.fail_next(status=500)
    assert httpx.get(node.url + "/v1/models").status_code == 401
    assert client.http.get("/v1/models").status_code == 500


def test_delay_rules_are_consumed(client: Client, node: LocalNode) -> None:
    node.faults.delay_next(1, n=2, route="/health")
    node.faults.set_rtt(1)
    assert client.http.get("/v1/models").status_code == 200
    assert node.faults.pending()[0]["remaining"] == 2
    client.http.get("/health")
    assert node.faults.pending()[0]["remaining"] == 1
    assert node.faults.rtt_ms == 1


def test_drop_connection_mid_stream(client: Client, node: LocalNode) -> None:
    node.faults.drop_after(2)
    sealed = client.seal(chat_body(), stream=True)
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.http.stream("POST", CHAT, json=sealed.body) as response,
    ):
        assert response.status_code == 200
        for part in response.iter_bytes():
            received += part
    events = parse_sse(received.decode())
    assert [e.kind for e in events].count("data") == 2
    assert client.post(CHAT, client.seal(chat_body(), stream=True)).status_code == 200  # node still serves


def test_truncate_stream_cleanly(client: Client, node: LocalNode) -> None:
    node.faults.truncate_after(3)
    sealed, events = client.stream(CHAT, chat_body())
    chunks = [json.loads(client.open(sealed.session, e.json())) for e in events if e.kind == "data"]
    assert len(chunks) == 3
    assert all(c["choices"] and c["usage"] is None for c in chunks)


def test_corrupt_chunk(client: Client, node: LocalNode) -> None:
    node.faults.corrupt_chunk(1)
    sealed, events = client.stream(CHAT, chat_body())
    data = [e.json() for e in events if e.kind == "data"]
    client.open(sealed.session, data[0])
    with pytest.raises(IntegrityError):
        sealed.session.decrypt(data[1]["ciphertext"], data[1]["nonce"])
    client.open(sealed.session, data[2])


def test_corrupt_non_streamed_answer(client: Client, node: LocalNode) -> None:
    node.faults.corrupt_chunk()
    sealed = client.seal(chat_body())
    envelope = client.post(CHAT, sealed).json()
    with pytest.raises(IntegrityError):
        sealed.session.decrypt(envelope["ciphertext"], envelope["nonce"])


def test_plaintext_chunk(client: Client, node: LocalNode) -> None:
    node.faults.plaintext_chunk(0)
    sealed, events = client.stream(CHAT, chat_body())
    data = [e.json() for e in events if e.kind == "data"]
    assert "ciphertext" not in data[0] and data[0]["object"] == "chat.completion.chunk"
    client.open(sealed.session, data[1])


def test_plaintext_non_streamed_answer(client: Client, node: LocalNode) -> None:
    node.faults.plaintext_chunk()
    answer = client.post(CHAT, client.seal(chat_body())).json()
    assert answer["object"] == "chat.completion" and "ciphertext" not in answer


@pytest.mark.parametrize("stream", [False, True])
def test_reflect_sends_the_request_back(client: Client, node: LocalNode, stream: bool) -> None:
    node.faults.reflect_next()
    sealed = client.seal(chat_body("CANARY"), stream=stream)
    response = client.post(CHAT, sealed)
    envelope = parse_sse(response.text)[0].json() if stream else response.json()
    plaintext = client.open(
        sealed.session, envelope
    )  # decrypts and verifies: only a content check catches it
    assert json.loads(plaintext)["messages"][0]["content"] == "CANARY"
    assert b64d(envelope["response_hash"], what="hash") == body_hash(plaintext) == sealed.session.request_hash


def test_rotate_key_between_lock_and_request(client: Client, node: LocalNode) -> None:
    node.faults.rotate_key_next()
    lock = client.lock()
    assert error_of(client.post(CHAT, client.seal(chat_body(), lock))) == (500, "INTERNAL_ERROR", GENERIC_500)
    fresh = client.lock()
    assert fresh["public_key"] == node.public_key != lock["public_key"]
    assert client.post(CHAT, client.seal(chat_body(), fresh)).status_code == 200


def test_response_faults_skip_lock_and_non_stream_requests(client: Client, node: LocalNode) -> None:
    node.faults.drop_after(0)
    assert client.post(CHAT, client.seal(chat_body())).status_code == 200  # not streamed: rule waits
    assert node.faults.pending()[0]["kind"] == "drop"


def test_admin_route_needs_its_own_token(node: LocalNode) -> None:
    for token in (None, node.api_key, "wrong"):
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        response = httpx.post(node.url + "/_admin/faults", json={"kind": "clear"}, headers=headers)
        assert error_of(response)[:2] == (401, "AUTH_ERROR")
        assert httpx.post(node.url + "/_admin/rotate-key", headers=headers).status_code == 401


def test_admin_faults_round_trip(node: LocalNode, client: Client) -> None:
    admin = httpx.Client(base_url=node.url, headers={"authorization": f"Bearer {node.admin_token}"})
    specs = [
        {"kind": "fail", "n": 1, "status": 503, "retry_after": 2, "route": "/v1/models"},
        {"kind": "rtt", "ms": 0},
        {"kind": "truncate", "after": 1},
    ]
    state = admin.post("/_admin/faults", json=specs).json()
    assert [r["kind"] for r in state["pending"]] == ["fail", "truncate"]
    assert admin.get("/_admin/faults").json() == state
    response = client.http.get("/v1/models")
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    _, events = client.stream(CHAT, chat_body())
    assert [e.kind for e in events] == ["data"]
    admin.post("/_admin/faults", json={"kind": "fail", "n": 5})
    assert admin.delete("/_admin/faults").json() == {"rtt_ms": 0.0, "pending": []}
    assert client.http.get("/v1/models").status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        b"nope",
        b"3",
        b'{"kind": "explode"}',
        b'{"kind": "fail", "status": 200}',
        b'{"kind": "fail", "n": 0}',
        b'{"kind": "drop", "after": -1}',
        b'{"kind": "fail", "route": 5}',
        b'{"kind": "delay", "ms": "x"}',
    ],
)
def test_admin_rejects_bad_specs(node: LocalNode, spec: bytes) -> None:
    headers = {"authorization": f"Bearer {node.admin_token}"}
    response = httpx.post(node.url + "/_admin/faults", content=spec, headers=headers)
    assert error_of(response)[:2] == (400, "REQUEST_ERROR")
    assert node.faults.pending() == []


def test_admin_rotate_key(node: LocalNode, client: Client) -> None:
    old = client.lock()
    new = httpx.post(node.url + "/_admin/rotate-key", headers={"authorization": f"Bearer {node.admin_token}"})
    assert new.json()["public_key"] == node.public_key != old["public_key"]
    assert client.post(CHAT, client.seal(chat_body(), old)).status_code == 500


def test_faults_object_rules_are_first_come_per_kind() -> None:
    faults = Faults()
    faults.fail_next(status=500, route="/a")
    faults.fail_next(status=501)
    assert faults.take_request("/b").fail.status == 501  # type: ignore[union-attr]
    assert faults.take_request("/a").fail.status == 500  # type: ignore[union-attr]
    assert faults.take_request("/a").fail is None
    with pytest.raises(FaultSpecError):
        faults.fail_next(status=302)
