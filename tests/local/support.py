"""Client side of the local node tests: lock, encrypt, post, decrypt, verify (using the envelope module)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from atoma_sdk.confidential import sui
from atoma_sdk.confidential.envelope import ClientSession, b64d, body_hash
from atoma_sdk.local import LocalNode

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"
IMAGE_MODEL = "black-forest-labs/FLUX.1-schnell"
CHAT = "/v1/confidential/chat/completions"
COMPLETIONS = "/v1/confidential/completions"
EMBEDDINGS = "/v1/confidential/embeddings"
IMAGES = "/v1/confidential/images/generations"


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def chat_body(content: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], "model": CHAT_MODEL, **extra}


@dataclass
class Sealed:
    session: ClientSession
    body: dict[str, Any]


@dataclass
class Event:
    kind: str  # "data" or "comment"
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def parse_sse(raw: str) -> list[Event]:
    """Split an SSE body into events; every event must be exactly one line."""
    assert raw.endswith("\n\n") or raw == "", "the body must end with a complete event"
    events = []
    for block in raw.split("\n\n")[:-1]:
        assert "\n" not in block, "one line per event"
        if block.startswith("data: "):
            events.append(Event("data", block[6:]))
        else:
            assert block.startswith(":"), block
            events.append(Event("comment", block))
    return events


class Client:
    """Plays the SDK against a node, with nothing but httpx and the envelope module."""

    def __init__(self, node: LocalNode, http: httpx.Client) -> None:
        self.node = node
        self.http = http

    def lock(self, model: str = CHAT_MODEL, **extra: Any) -> dict[str, Any]:
        response = self.http.post("/v1/nodes/lock", json={"model": model, **extra})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def seal(
        self,
        inner: dict[str, Any] | bytes,
        lock: dict[str, Any] | None = None,
        *,
        stream: bool = False,
        **outer: Any,
    ) -> Sealed:
        lock = (
            lock if lock is not None else self.lock(inner["model"] if isinstance(inner, dict) else CHAT_MODEL)
        )
        plaintext = inner if isinstance(inner, bytes) else dumps({**inner, "stream": stream})
        session = ClientSession.create(lock["public_key"])
        body = {
            **session.encrypt_request(plaintext),
            "model_name": inner["model"] if isinstance(inner, dict) else CHAT_MODEL,
            "stack_small_id": lock["stack_small_id"],
            "stream": stream,
            **outer,
        }
        return Sealed(session, body)

    def post(self, route: str, sealed: Sealed | dict[str, Any]) -> httpx.Response:
        body = sealed.body if isinstance(sealed, Sealed) else sealed
        return self.http.post(route, json=body)

    def open(self, session: ClientSession, envelope: dict[str, Any]) -> bytes:
        """Decrypt, check the hash, check the signature and the signer; returns the plaintext."""
        plaintext = session.decrypt(envelope["ciphertext"], envelope["nonce"])
        digest = b64d(envelope["response_hash"], length=32, what="hash")
        assert body_hash(plaintext) == digest
        assert sui.verify(envelope["signature"], digest).address == self.node.signer_address
        return plaintext

    def call(self, route: str, inner: dict[str, Any], **outer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """A whole non-streamed confidential call: returns (envelope, decrypted answer)."""
        sealed = self.seal(inner, **outer)
        response = self.post(route, sealed)
        assert response.status_code == 200, response.text
        envelope = response.json()
        return envelope, json.loads(self.open(sealed.session, envelope))

    def stream(self, route: str, inner: dict[str, Any], **outer: Any) -> tuple[Sealed, list[Event]]:
        sealed = self.seal(inner, stream=True, **outer)
        response = self.post(route, sealed)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return sealed, parse_sse(response.text)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]
