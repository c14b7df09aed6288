"""AsyncConfidentialOpenAI (installed openai release) against a local node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai_helpers import CHAT_MODEL, CONFIDENTIAL_CHAT, EMBEDDING_MODEL, LOCK, AsyncCountingTransport

import openai
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.local import LocalNode
from atoma_sdk.openai import AsyncConfidentialOpenAI

pytestmark = pytest.mark.anyio

MESSAGES: list[Any] = [{"role": "user", "content": "is the async path verified too?"}]


@pytest.fixture
def receipts() -> list[Receipt]:
    return []


@pytest.fixture
def inner() -> AsyncCountingTransport:
    return AsyncCountingTransport()


@pytest.fixture
async def client(
    node: LocalNode, base_url: str, receipts: list[Receipt], inner: AsyncCountingTransport
) -> AsyncIterator[AsyncConfidentialOpenAI]:
    async with AsyncConfidentialOpenAI(
        api_key=node.api_key, base_url=base_url, on_receipt=receipts.append, inner_transport=inner
    ) as client:
        yield client
    await inner.aclose()  # passed in: the test's to close, on the loop its connections belong to


async def test_chat_create(client: AsyncConfidentialOpenAI, receipts: list[Receipt]) -> None:
    completion = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content
    assert len(receipts) == 1 and receipts[0].complete and receipts[0].signature_verified


async def test_chat_stream_with_and_without_usage(
    client: AsyncConfidentialOpenAI, receipts: list[Receipt]
) -> None:
    stream = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    plain = [chunk async for chunk in stream]
    assert plain and all(chunk.choices for chunk in plain)
    with_usage = [
        chunk
        async for chunk in await client.chat.completions.create(
            model=CHAT_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    ]
    assert with_usage[-1].choices == [] and with_usage[-1].usage is not None
    assert len(with_usage) == len(plain) + 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in plain)
    assert text == "".join(chunk.choices[0].delta.content or "" for chunk in with_usage if chunk.choices)
    assert len(receipts) == 2 and all(receipt.complete and receipt.streamed for receipt in receipts)


async def test_completions_and_embeddings(
    client: AsyncConfidentialOpenAI, inner: AsyncCountingTransport, receipts: list[Receipt]
) -> None:
    completion = await client.completions.create(model=CHAT_MODEL, prompt="async enclave", max_tokens=4)
    assert completion.choices[0].text
    before = inner.paths["/v1/confidential/completions"]
    stream = await client.completions.create(
        model=CHAT_MODEL, prompt="async enclave", max_tokens=4, stream=True
    )
    assert "".join([chunk.choices[0].text async for chunk in stream]) == completion.choices[0].text
    assert inner.paths["/v1/confidential/completions"] == before + 1
    assert receipts[-1].stream_mode == "buffer"
    embeddings = await client.embeddings.create(model=EMBEDDING_MODEL, input=["one", "two words"])
    assert [entry.index for entry in embeddings.data] == [0, 1]
    assert all(len(entry.embedding) > 0 for entry in embeddings.data)


async def test_tampering_is_a_502_without_retry(
    client: AsyncConfidentialOpenAI, node: LocalNode, inner: AsyncCountingTransport, receipts: list[Receipt]
) -> None:
    node.faults.corrupt_chunk(0, route=CONFIDENTIAL_CHAT)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert caught.value.status_code == 502
    assert inner.paths[LOCK] == 1
    assert receipts == []


async def test_truncated_stream_raises(client: AsyncConfidentialOpenAI, node: LocalNode) -> None:
    node.faults.truncate_after(2, route=CONFIDENTIAL_CHAT)
    stream = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    seen = []
    with pytest.raises(openai.APIError, match="ended before"):
        async for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2


async def test_retry_takes_a_fresh_lock(
    client: AsyncConfidentialOpenAI, node: LocalNode, inner: AsyncCountingTransport
) -> None:
    node.faults.fail_next(1, status=503, retry_after=0.01, route=CONFIDENTIAL_CHAT)
    stream = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    assert [chunk async for chunk in stream]
    assert inner.paths[LOCK] == 2 and inner.paths[CONFIDENTIAL_CHAT] == 2


async def test_models_are_forwarded(client: AsyncConfidentialOpenAI, node: LocalNode) -> None:
    page = await client.models.list()
    assert [model.id for model in page.data] == list(node.config.models)
