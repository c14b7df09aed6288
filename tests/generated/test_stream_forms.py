"""The seed's call forms of ``stream``, against the local node over loopback (sync and async).

``create(stream=True)`` returns what ``create_stream`` returns; ``create_stream`` accepts ``stream=True`` in
both forms and refuses ``stream=False``; the raw wire form of confidential ``create(stream=True)`` is refused
before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy
from atoma_sdk._runtime.eventstream import EventStream, EventStreamAsync
from atoma_sdk.confidential.stream import ConfidentialStream, ConfidentialStreamAsync
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL

pytestmark = pytest.mark.filterwarnings("ignore::atoma_sdk.confidential.policy.ConfidentialityWarning")

HI: list[Any] = [{"role": "user", "content": "Which forms does stream take?"}]
RAW: dict[str, Any] = {
    "ciphertext": "c",
    "client_dh_public_key": "k",
    "model_name": CHAT_MODEL,
    "node_dh_public_key": "n",
    "nonce": "o",
    "plaintext_body_hash": "h",
    "salt": "s",
    "stack_small_id": 1,
}


class Sent:
    """A before-request hook that records (path, JSON body) of every request the SDK sends."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
        self.bodies.append((request.url.path, json.loads(request.content or b"{}")))
        return request


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def sdk(node: LocalNode, sent: Sent) -> Iterator[AtomaSDK]:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, hooks=[sent]) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _chat_text(stream: Any) -> str:
    return "".join(choice.delta.content or "" for item in stream for choice in item.data.choices)


def test_confidential_create_stream_true_is_create_stream(sdk: AtomaSDK, sent: Sent) -> None:
    expected = sdk.confidential_chat.create(messages=HI, model=CHAT_MODEL).choices[0].message.content
    assert (
        sdk.confidential_chat.create(messages=HI, model=CHAT_MODEL, stream=False).choices[0].message.content
    )
    stream = sdk.confidential_chat.create(messages=HI, model=CHAT_MODEL, stream=True)
    assert type(stream) is ConfidentialStream
    assert _chat_text(stream) == expected and stream.receipt.complete
    again = sdk.confidential_chat.create_stream(messages=HI, model=CHAT_MODEL, stream=True)
    assert type(again) is ConfidentialStream and _chat_text(again) == expected
    bodies = [body for path, body in sent.bodies if path == "/v1/confidential/chat/completions"]
    assert len(bodies) == 4  # one confidential request per call


def test_confidential_completions_create_stream_true(sdk: AtomaSDK) -> None:
    stream = sdk.confidential_completions.create(
        prompt="Say something", model=CHAT_MODEL, max_tokens=5, stream=True
    )
    assert type(stream) is ConfidentialStream
    assert "".join(item.data.choices[0].text for item in stream) and stream.receipt.complete


def test_plaintext_resources_stream_true(sdk: AtomaSDK) -> None:
    expected = sdk.chat.create(messages=HI, model=CHAT_MODEL).choices[0].message.content
    stream = sdk.chat.create(messages=HI, model=CHAT_MODEL, stream=True)
    assert type(stream) is EventStream and _chat_text(stream) == expected
    assert _chat_text(sdk.chat.create_stream(messages=HI, model=CHAT_MODEL, stream=True)) == expected
    completion = sdk.completions.create(prompt="Say something", model=CHAT_MODEL, max_tokens=4, stream=True)
    assert type(completion) is EventStream
    assert "".join(choice.text for item in completion for choice in item.data.choices)


def test_stream_false_on_create_stream_is_a_type_error_before_io(sdk: AtomaSDK, sent: Sent) -> None:
    with pytest.raises(TypeError, match="only accepts stream=True"):
        sdk.confidential_chat.create_stream(messages=HI, model=CHAT_MODEL, stream=False)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="only accepts stream=True"):
        sdk.confidential_chat.create_stream(**RAW, stream=False)
    with pytest.raises(TypeError, match=r"chat.create_stream\(\) only accepts stream=True"):
        sdk.chat.create_stream(messages=HI, model=CHAT_MODEL, stream=False)  # type: ignore[arg-type]
    assert sent.bodies == []


def test_raw_create_stream_true_names_create_stream_before_io(sdk: AtomaSDK, sent: Sent) -> None:
    with pytest.raises(TypeError, match=r"call confidential_chat\.create_stream\(\) instead"):
        sdk.confidential_chat.create(**RAW, stream=True)
    with pytest.raises(TypeError, match=r"call confidential_completions\.create_stream\(\) instead"):
        sdk.confidential_completions.create(**RAW, stream=True)
    assert sent.bodies == []


def test_raw_create_stream_accepts_stream_true(sdk: AtomaSDK, node: LocalNode, sent: Sent) -> None:
    # The raw wire form reaches the node (which rejects the fake envelope): stream=True is no TypeError.
    with pytest.raises(Exception) as info:
        list(sdk.confidential_chat.create_stream(**RAW, stream=True))
    assert not isinstance(info.value, TypeError)
    assert [body["stream"] for path, body in sent.bodies if path.startswith("/v1/confidential")] == [True]


@pytest.mark.anyio
async def test_async_forms(sdk: AtomaSDK, sent: Sent) -> None:
    policy = VerificationPolicy(nonce_reuse="buffer")
    stream = await sdk.confidential_chat.create_async(
        messages=HI, model=CHAT_MODEL, stream=True, verification=policy
    )
    assert type(stream) is ConfidentialStreamAsync
    text = await stream.text()
    again = await sdk.confidential_chat.create_stream_async(messages=HI, model=CHAT_MODEL, stream=True)
    assert type(again) is ConfidentialStreamAsync and text and await again.text() == text
    plain = await sdk.chat.create_async(messages=HI, model=CHAT_MODEL, stream=True)
    assert type(plain) is EventStreamAsync
    assert [item async for item in plain]
    before = len(sent.bodies)
    with pytest.raises(TypeError, match="create_stream"):
        await sdk.confidential_chat.create_async(**RAW, stream=True)
    with pytest.raises(TypeError, match="only accepts stream=True"):
        await sdk.confidential_chat.create_stream_async(messages=HI, model=CHAT_MODEL, stream=False)  # type: ignore[call-overload]
    assert len(sent.bodies) == before
