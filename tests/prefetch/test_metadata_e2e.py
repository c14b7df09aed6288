"""The local node (it checks the body hash over the exact bytes) accepts randomised, padded plaintexts."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from atoma_sdk import AtomaSDK
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL, EMBEDDING_MODEL

from .conftest import CHAT_PATH, QUIET, Recorder

MESSAGES: Any = [{"role": "user", "content": "The same prompt, twice."}]
TAG = 16  # AES-GCM tag: plaintext length = ciphertext length - 16


@pytest.fixture
def sdk(node: LocalNode, recorder: Recorder) -> Iterator[AtomaSDK]:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, hooks=[recorder], verification=QUIET) as c:
        yield c


def plaintext_length(body: dict[str, object]) -> int:
    ciphertext = body["ciphertext"]
    assert isinstance(ciphertext, str)
    return len(base64.b64decode(ciphertext)) - TAG


def test_identical_prompts_get_unlinkable_hashes_and_the_node_accepts_them(
    sdk: AtomaSDK, recorder: Recorder
) -> None:
    first = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    second = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert first.choices[0].message.content == second.choices[0].message.content
    hashes = [body["plaintext_body_hash"] for body in recorder.sent(CHAT_PATH)]
    assert len(hashes) == 2 and hashes[0] != hashes[1]


def test_opting_out_sends_compact_json_whose_hash_links_prompts(sdk: AtomaSDK, recorder: Recorder) -> None:
    policy = QUIET.with_(randomize_plaintext=False)
    for _ in range(2):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    hashes = [body["plaintext_body_hash"] for body in recorder.sent(CHAT_PATH)]
    assert len(hashes) == 2 and hashes[0] == hashes[1]


@pytest.mark.parametrize("content", ["short", "a much longer prompt " * 40])
def test_padding_to_a_bucket_hides_the_prompt_length(sdk: AtomaSDK, recorder: Recorder, content: str) -> None:
    policy = QUIET.with_(pad_to=4096)
    messages: Any = [{"role": "user", "content": content}]
    result = sdk.confidential_chat.create(messages=messages, model=CHAT_MODEL, verification=policy)
    assert result.receipt is not None and result.receipt.response_hash_verified
    (body,) = recorder.sent(CHAT_PATH)
    assert plaintext_length(body) == 4096


def test_streams_and_embeddings_accept_randomised_padded_plaintexts(
    sdk: AtomaSDK, recorder: Recorder
) -> None:
    policy = QUIET.with_(pad_to=lambda n: max(n, 2048))
    stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    texts = [item.data.choices[0].delta.content or "" for item in stream]
    assert texts and stream.receipt.complete
    result = sdk.confidential_embeddings.create(input="embed me", model=EMBEDDING_MODEL, verification=policy)
    assert result.data and result.receipt is not None
    sent = [body for path, body in recorder.bodies if "confidential" in path]
    assert [plaintext_length(body) for body in sent] == [2048, 2048]


@pytest.mark.anyio
async def test_async_calls_randomise_too(node: LocalNode, recorder: Recorder) -> None:
    async with AtomaSDK(
        bearer_auth=node.api_key, server_url=node.url, hooks=[recorder], verification=QUIET
    ) as sdk:
        for _ in range(2):
            await sdk.confidential_chat.create_async(messages=MESSAGES, model=CHAT_MODEL)
    hashes = [body["plaintext_body_hash"] for body in recorder.sent(CHAT_PATH)]
    assert len(hashes) == 2 and hashes[0] != hashes[1]
