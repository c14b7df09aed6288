"""Every async path over both backends against the local node: confidential create, stream, lock prefetch,
many concurrent calls, and the openai drop-in's async transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import atoma_sdk
from atoma_sdk import AtomaSDK, DefaultAioHttpClient, VerificationPolicy
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL

QUIET = VerificationPolicy(attestation="off")
MESSAGES: Any = [{"role": "user", "content": "is the aiohttp path verified too?"}]


def _sdk(node: LocalNode, backend: str, **kwargs: Any) -> AtomaSDK:
    client = DefaultAioHttpClient() if backend == "aiohttp" else None
    return AtomaSDK(
        bearer_auth=node.api_key, server_url=node.url, async_client=client, verification=QUIET, **kwargs
    )


def _sends_over(sdk: AtomaSDK, backend: str) -> bool:
    client = sdk._runtime.clients.async_()
    return isinstance(client, DefaultAioHttpClient) is (backend == "aiohttp")


def test_confidential_create_and_stream(node: LocalNode, backend: str) -> None:
    async def main() -> tuple[str, str, bool]:
        async with _sdk(node, backend) as sdk:
            chat = sdk.confidential_chat
            answer = await chat.create_async(messages=MESSAGES, model=CHAT_MODEL)
            stream = await chat.create_stream_async(messages=MESSAGES, model=CHAT_MODEL)
            async with stream:
                parts = [
                    item.data.choices[0].delta.content or "" async for item in stream if item.data.choices
                ]
            return answer.choices[0].message.content or "", "".join(parts), _sends_over(sdk, backend)

    text, streamed, right_backend = asyncio.run(main())
    assert right_backend
    assert text and streamed == text


def test_many_concurrent_calls(node: LocalNode, backend: str) -> None:
    async def main() -> int:
        async with _sdk(node, backend) as sdk:
            chat = sdk.confidential_chat
            answers = await asyncio.gather(
                *(chat.create_async(messages=MESSAGES, model=CHAT_MODEL) for _ in range(64))
            )
            return sum(1 for answer in answers if answer.choices)

    assert asyncio.run(main()) == 64


def test_lock_prefetch(node: LocalNode, backend: str) -> None:
    async def main() -> dict[str, int]:
        async with _sdk(node, backend, lock_prefetch=True) as sdk:
            chat = sdk.confidential_chat
            await chat.create_async(messages=MESSAGES, model=CHAT_MODEL)
            for _ in range(2000):  # the prefetched lock arrives in the background (bounded wait)
                if sdk.lock_pool_stats()["ready"]:
                    break
                await asyncio.sleep(0.01)
            await asyncio.gather(*(chat.create_async(messages=MESSAGES, model=CHAT_MODEL) for _ in range(4)))
            return sdk.lock_pool_stats()

    stats = asyncio.run(main())
    assert stats["hits"] >= 1


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_openai_async_transport_over_aiohttp(node: LocalNode) -> None:
    from atoma_sdk.openai import AsyncConfidentialOpenAI

    receipts: list[Receipt] = []
    transport = atoma_sdk.aiohttp_transport()
    client = AsyncConfidentialOpenAI(
        api_key=node.api_key,
        base_url=node.url + "/v1",
        on_receipt=receipts.append,
        inner_transport=transport,
        verification=QUIET,
    )
    async with client:
        completion = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
        stream = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        models = await client.models.list()  # a read: forwarded over the aiohttp transport itself
    assert completion.choices[0].message.content == text
    assert len(receipts) == 2 and all(r.complete and r.signature_verified for r in receipts)
    assert models.data
    assert transport.client is not None  # the aiohttp session carried the traffic
