"""Verification failures, truncation and bypass refusal: errors the openai client raises, never retries."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from openai_helpers import CHAT_MODEL, CONFIDENTIAL_CHAT, LOCK, CountingTransport

import openai
from atoma_sdk import errors
from atoma_sdk.confidential.policy import VerificationPolicy
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.local import LocalNode
from atoma_sdk.openai import (
    ConfidentialOpenAI,
    ConfidentialTransport,
    check_http_client,
    confidential_http_client,
)
from atoma_sdk.openai.client import uses_httpx2

SECRET = "my secret diagnosis"
MESSAGES: list[Any] = [{"role": "user", "content": SECRET}]


@pytest.fixture
def inner() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def receipts() -> list[Receipt]:
    return []


@pytest.fixture
def client(
    node: LocalNode, base_url: str, inner: CountingTransport, receipts: list[Receipt]
) -> ConfidentialOpenAI:
    return ConfidentialOpenAI(
        api_key=node.api_key,
        base_url=base_url,
        inner_transport=inner,
        on_receipt=receipts.append,
        max_retries=2,
    )


def test_tampered_answer_is_a_502_the_client_does_not_retry(
    client: ConfidentialOpenAI, node: LocalNode, inner: CountingTransport, receipts: list[Receipt]
) -> None:
    node.faults.corrupt_chunk(0, route=CONFIDENTIAL_CHAT)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    error = caught.value
    assert error.status_code == 502
    assert error.response.headers["x-should-retry"] == "false"
    assert "confidential verification failed" in error.message
    assert SECRET not in error.message and SECRET not in error.response.text
    assert inner.paths[LOCK] == 1 and inner.paths[CONFIDENTIAL_CHAT] == 1
    assert receipts == []


@pytest.mark.parametrize("fault", ["corrupt", "reflect", "plaintext"])
def test_every_tampering_kind_is_refused(
    client: ConfidentialOpenAI, node: LocalNode, inner: CountingTransport, fault: str
) -> None:
    node.faults.apply({"kind": fault, "route": CONFIDENTIAL_CHAT})
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert caught.value.status_code == 502
    assert inner.paths[LOCK] == 1


def test_tampered_chunk_mid_stream_raises_instead_of_ending(
    client: ConfidentialOpenAI, node: LocalNode, receipts: list[Receipt]
) -> None:
    node.faults.corrupt_chunk(3, route=CONFIDENTIAL_CHAT)
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    seen = []
    with pytest.raises(openai.APIError, match="confidential verification failed") as caught:
        for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 3
    assert SECRET not in str(caught.value)
    assert receipts == []


def test_truncated_stream_raises_and_never_sends_done(node: LocalNode, base_url: str) -> None:
    node.faults.truncate_after(2, route=CONFIDENTIAL_CHAT)
    http = httpx.Client(transport=ConfidentialTransport())
    response = http.post(
        f"{base_url}/chat/completions",
        json={"model": CHAT_MODEL, "messages": MESSAGES, "stream": True},
        headers={"Authorization": f"Bearer {node.api_key}"},
    )
    body = response.text
    assert response.status_code == 200
    assert "[DONE]" not in body
    events = [line for line in body.split("\n\n") if line]
    assert len(events) == 3
    assert '"error"' in events[-1] and "stream_truncated_error" in events[-1]


def test_truncated_stream_through_openai(client: ConfidentialOpenAI, node: LocalNode) -> None:
    node.faults.truncate_after(2, route=CONFIDENTIAL_CHAT)
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="ended before"):
        list(stream)


def test_failure_before_the_first_chunk_is_a_502(
    client: ConfidentialOpenAI, node: LocalNode, inner: CountingTransport
) -> None:
    node.faults.corrupt_chunk(0, route=CONFIDENTIAL_CHAT)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    assert caught.value.status_code == 502
    assert inner.paths[LOCK] == 1


def test_a_pinned_signer_mismatch_is_refused(node: LocalNode, base_url: str) -> None:
    policy = VerificationPolicy(pinned_signers=frozenset({"0x" + "ab" * 32}))
    client = ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, verification=policy, max_retries=2)
    with pytest.raises(openai.InternalServerError, match="not pinned"):
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)


def test_api_errors_pass_through_with_their_status(node: LocalNode, base_url: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        ConfidentialOpenAI(api_key="wrong", base_url=base_url).chat.completions.create(
            model=CHAT_MODEL, messages=MESSAGES
        )
    client = ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, max_retries=0)
    # The node has no stack for an unknown model: the lock's 503 reaches the caller as the API sent it.
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.status_code == 503
    assert caught.value.response.headers.get("x-should-retry") is None


def test_routes_without_a_confidential_form_are_refused_unsent(
    node: LocalNode, base_url: str, inner: CountingTransport
) -> None:
    http = httpx.Client(transport=ConfidentialTransport(inner=inner))
    response = http.post(
        f"{base_url}/responses",
        json={"model": CHAT_MODEL, "input": SECRET},
        headers={"Authorization": f"Bearer {node.api_key}"},
    )
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == "not_confidential"
    assert sum(inner.paths.values()) == 0


def test_invalid_bodies_are_refused_unsent(node: LocalNode, base_url: str, inner: CountingTransport) -> None:
    http = httpx.Client(transport=ConfidentialTransport(inner=inner))
    for content in (b"not json", b"[1]", b'{"messages": []}'):
        response = http.post(f"{base_url}/chat/completions", content=content)
        assert response.status_code == 400
    streamed_embedding = http.post(
        f"{base_url}/embeddings", json={"model": CHAT_MODEL, "input": "x", "stream": True}
    )
    assert streamed_embedding.status_code == 400
    assert sum(inner.paths.values()) == 0


def test_clients_that_could_bypass_the_transport_are_refused(node: LocalNode, base_url: str) -> None:
    with pytest.raises(errors.RequestValidationError, match="bypass"):
        confidential_http_client(proxy="http://127.0.0.1:9")
    with pytest.raises(errors.RequestValidationError, match="bypass"):
        confidential_http_client(mounts={"http://": None})
    plain = openai.DefaultHttpxClient()
    with pytest.raises(errors.RequestValidationError, match="confidential transport"):
        ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, http_client=plain)
    with pytest.raises(errors.RequestValidationError, match="confidential transport"):
        check_http_client(object())
    with pytest.raises(TypeError):
        ConfidentialOpenAI(
            api_key=node.api_key,
            base_url=base_url,
            http_client=confidential_http_client(),
            verification=VerificationPolicy(),
        )


@pytest.mark.parametrize("route", ["proxy", "mount"])
def test_a_client_with_a_proxy_or_mount_is_refused(node: LocalNode, base_url: str, route: str) -> None:
    library = importlib.import_module("httpx2" if uses_httpx2() else "httpx")  # whichever openai is built on
    transport = confidential_http_client()._transport  # type: ignore[attr-defined]
    if route == "proxy":
        client = library.Client(transport=transport, proxy="http://127.0.0.1:9")
    else:
        client = library.Client(transport=transport, mounts={"http://127.0.0.1": library.HTTPTransport()})
    with pytest.raises(errors.RequestValidationError, match="bypass"):
        ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, http_client=client)
    with pytest.raises(errors.RequestValidationError, match="bypass"):
        check_http_client(client)


def test_a_checked_client_is_accepted_and_copies_keep_it(node: LocalNode, base_url: str) -> None:
    http_client = confidential_http_client()
    client = ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, http_client=http_client)
    copy = client.with_options(timeout=30)
    assert isinstance(copy, ConfidentialOpenAI)
    assert copy.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES).choices


def test_no_openai_key_fallback(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.delenv("ATOMASDK_BEARER_AUTH", raising=False)
    with pytest.raises(errors.RequestValidationError, match="Atoma API key"):
        ConfidentialOpenAI(base_url=base_url)
    monkeypatch.setenv("ATOMASDK_BEARER_AUTH", "from-env")
    assert ConfidentialOpenAI(base_url=base_url).api_key == "from-env"


def test_dropped_connection_mid_stream_raises(client: ConfidentialOpenAI, node: LocalNode) -> None:
    node.faults.drop_after(2, route=CONFIDENTIAL_CHAT)
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    seen = []
    with pytest.raises(openai.APIError, match="interrupted"):
        for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2


def test_a_node_rejection_is_final_for_the_openai_client(
    client: ConfidentialOpenAI, inner: CountingTransport
) -> None:
    """A node 400 (here: max_tokens out of range) is deterministic: x-should-retry false, one lock only."""
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, max_tokens=10**9)
    assert caught.value.status_code == 500
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "node rejected the request" in caught.value.message
    assert inner.paths[LOCK] == 1 and inner.paths[CONFIDENTIAL_CHAT] == 1


def test_no_node_for_the_model_is_named(node: LocalNode, base_url: str) -> None:
    client = ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, max_retries=0)
    with pytest.raises(openai.InternalServerError, match="acme/no-such-model"):
        client.chat.completions.create(model="acme/no-such-model", messages=MESSAGES)
