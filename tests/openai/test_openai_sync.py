"""The official openai client (installed release) through ConfidentialOpenAI, sync, against a local node."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import pytest
from openai_helpers import (
    CHAT_MODEL,
    CONFIDENTIAL_CHAT,
    EMBEDDING_MODEL,
    IMAGE_MODEL,
    LOCK,
    CountingTransport,
)

import openai
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.local import LocalNode
from atoma_sdk.openai import ConfidentialOpenAI, ConfidentialTransport

MESSAGES: list[Any] = [{"role": "user", "content": "what stays inside the enclave?"}]


def plaintext_answer(node: LocalNode, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the node's plaintext route answers for the same body (the deterministic model)."""
    headers = {"Authorization": f"Bearer {node.api_key}"}
    response = httpx.post(f"{node.url}/v1{path}", json=body, headers=headers)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def receipts() -> list[Receipt]:
    return []


@pytest.fixture
def client(node: LocalNode, base_url: str, receipts: list[Receipt]) -> ConfidentialOpenAI:
    return ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, on_receipt=receipts.append)


def test_chat_create_returns_the_verified_answer_and_a_receipt(
    client: ConfidentialOpenAI, node: LocalNode, receipts: list[Receipt]
) -> None:
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    expected = plaintext_answer(node, "/chat/completions", {"model": CHAT_MODEL, "messages": MESSAGES})
    assert completion.object == "chat.completion"
    assert completion.model == CHAT_MODEL
    assert completion.choices[0].message.content == expected["choices"][0]["message"]["content"]
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert len(receipts) == 1
    receipt = receipts[0]
    assert receipt.complete and receipt.signature_verified and receipt.response_hash_verified
    assert receipt.signer_address == node.signer_address
    assert receipt.operation == "confidential_chat_completions_create"


def test_chat_stream_without_include_usage_has_no_usage_chunk(
    client: ConfidentialOpenAI, node: LocalNode, receipts: list[Receipt]
) -> None:
    chunks = list(client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True))
    expected = plaintext_answer(node, "/chat/completions", {"model": CHAT_MODEL, "messages": MESSAGES})
    assert chunks and all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == expected["choices"][0]["message"]["content"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(receipts) == 1 and receipts[0].streamed and receipts[0].complete


def test_chat_stream_with_include_usage_ends_with_the_nodes_usage_chunk(client: ConfidentialOpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model=CHAT_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    content_chunks = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert 0 < len(content_chunks) <= last.usage.completion_tokens  # engines send several tokens a chunk
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_completions_create_and_stream(
    client: ConfidentialOpenAI, node: LocalNode, receipts: list[Receipt]
) -> None:
    body: dict[str, Any] = {"model": CHAT_MODEL, "prompt": "the enclave", "max_tokens": 8}
    completion = client.completions.create(**body)
    expected = plaintext_answer(node, "/completions", body)["choices"][0]["text"]
    assert completion.object == "text_completion"
    assert completion.choices[0].text == expected
    # Today's proxy drops native completions chunks: the stream is served from one buffered request, and
    # the caller's stream_options (which vLLM refuses without stream) are not sent with it.
    streamed = list(client.completions.create(**body, stream=True, stream_options={"include_usage": True}))
    assert "".join(chunk.choices[0].text for chunk in streamed if chunk.choices) == expected
    assert streamed[-1].choices == [] and streamed[-1].usage is not None
    assert receipts[-1].stream_mode == "buffer" and receipts[-1].attempts == 1


def test_embeddings_in_floats_and_base64(client: ConfidentialOpenAI, node: LocalNode) -> None:
    expected = plaintext_answer(node, "/embeddings", {"model": EMBEDDING_MODEL, "input": ["a b", "c"]})
    vectors = [entry["embedding"] for entry in expected["data"]]
    # openai asks for base64 unless told otherwise and decodes it itself.
    default = client.embeddings.create(model=EMBEDDING_MODEL, input=["a b", "c"])
    assert [entry.embedding for entry in default.data] == [pytest.approx(v, rel=1e-6) for v in vectors]
    floats = client.embeddings.create(model=EMBEDDING_MODEL, input=["a b", "c"], encoding_format="float")
    assert [entry.embedding for entry in floats.data] == vectors
    raw = client.embeddings.create(model=EMBEDDING_MODEL, input="a b", encoding_format="base64")
    packed: Any = raw.data[0].embedding
    assert isinstance(packed, str)
    decoded = struct.unpack(f"<{len(vectors[0])}f", base64.b64decode(packed))
    assert list(decoded) == pytest.approx(vectors[0], rel=1e-6)


def test_models_are_forwarded_unchanged(client: ConfidentialOpenAI, node: LocalNode) -> None:
    assert [model.id for model in client.models.list()] == list(node.config.models)


def test_each_openai_retry_is_a_fresh_unit_with_a_fresh_lock(node: LocalNode, base_url: str) -> None:
    inner = CountingTransport()
    client = ConfidentialOpenAI(api_key=node.api_key, base_url=base_url, inner_transport=inner, max_retries=2)
    node.faults.fail_next(1, status=503, retry_after=0.01, route=CONFIDENTIAL_CHAT)
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert completion.choices[0].message.content
    assert inner.paths[LOCK] == 2
    assert inner.paths[CONFIDENTIAL_CHAT] == 2


def test_legacy_httpx_client_with_the_transport_works_too(node: LocalNode, base_url: str) -> None:
    """openai 3.x still accepts an ``httpx.Client``; 1.x and 2.x only take one."""
    client = openai.OpenAI(
        api_key=node.api_key, base_url=base_url, http_client=httpx.Client(transport=ConfidentialTransport())
    )
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def test_images_generate(client: ConfidentialOpenAI, receipts: list[Receipt]) -> None:
    images = client.images.generate(model=IMAGE_MODEL, prompt="a padlock", size="256x256")
    assert images.data and (images.data[0].url or images.data[0].b64_json)
    assert receipts[-1].operation == "confidential_image_generations_create" and receipts[-1].complete
