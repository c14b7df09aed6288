"""``resource.with_raw_response.method(...)`` against a local node: status, headers, elapsed, ``parse()``, the
lock of a confidential call, the successful attempt after retries, streams, and no token anywhere in it."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy
from atoma_sdk._runtime.raw import RawResponse
from atoma_sdk.local import LocalNode

from .conftest import CHAT_MODEL, HELLO

QUIET = VerificationPolicy(attestation="off", nonce_reuse="ignore")
CONFIDENTIAL_ROUTE = "/v1/confidential/chat/completions"


@pytest.fixture
def sdk(node: LocalNode) -> Iterator[AtomaSDK]:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET) as client:
        client._runtime.sleep = lambda _: None  # retries without waiting
        yield client
    node.faults.clear()


def _no_token(raw: RawResponse[Any], node: LocalNode) -> None:
    dumped = pickle.dumps(raw)
    assert node.api_key.encode() not in dumped and b"Bearer" not in dumped
    assert not any(name.lower() == "authorization" for name in raw.headers)
    restored = pickle.loads(dumped)
    assert restored.status_code == raw.status_code and restored.headers == raw.headers


def test_a_plain_call(sdk: AtomaSDK, node: LocalNode) -> None:
    raw = sdk.health.with_raw_response.health()
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    assert isinstance(raw.elapsed, timedelta) and raw.elapsed > timedelta(0)
    assert raw.parse().message == "ok" and raw.lock_response is None
    _no_token(raw, node)


def test_a_confidential_call_has_the_confidential_response_and_its_lock(
    sdk: AtomaSDK, node: LocalNode
) -> None:
    raw = sdk.confidential_chat.with_raw_response.create(messages=HELLO, model=CHAT_MODEL)
    result = raw.parse()
    assert raw.status_code == 200 and result.receipt is not None and result.receipt.signature_verified
    assert raw.lock_response is not None and raw.lock_response.status_code == 200
    assert raw.lock_response.parse() is None  # the lock is described by its response, not parsed again
    assert raw.headers["content-type"].startswith("application/json")
    _no_token(raw, node)


def test_after_retries_it_is_the_successful_attempt(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.fail_next(1, status=503, retry_after=0, route=CONFIDENTIAL_ROUTE)
    raw = sdk.confidential_chat.with_raw_response.create(messages=HELLO, model=CHAT_MODEL)
    receipt = raw.parse().receipt
    assert receipt is not None and receipt.attempts == 2
    assert raw.status_code == 200 and raw.lock_response is not None


def test_a_pooled_lock_leaves_lock_response_empty(node: LocalNode) -> None:
    sdk = AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET, lock_prefetch=True)
    with sdk:
        for _ in range(3):
            hits = sdk.lock_pool_stats()["hits"]
            raw = sdk.confidential_chat.with_raw_response.create(messages=HELLO, model=CHAT_MODEL)
            pooled = sdk.lock_pool_stats()["hits"] > hits
            assert (raw.lock_response is None) == pooled
            assert raw.status_code == 200


def test_streams_expose_the_same(sdk: AtomaSDK, node: LocalNode) -> None:
    raw = sdk.confidential_chat.with_raw_response.create_stream(
        messages=HELLO, model=CHAT_MODEL, max_tokens=4
    )
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/event-stream")
    assert raw.lock_response is not None
    with raw.parse() as stream:
        assert len(list(stream)) >= 4
    assert stream.receipt is not None and stream.receipt.complete
    plain = sdk.chat.with_raw_response.create_stream(messages=HELLO, model=CHAT_MODEL, max_tokens=2)
    with plain.parse() as events:
        assert list(events)
    assert plain.status_code == 200 and plain.lock_response is None


def test_a_lock_call_itself(sdk: AtomaSDK) -> None:
    raw = sdk.nodes.with_raw_response.nodes_create_lock(model=CHAT_MODEL)
    assert raw.status_code == 200 and raw.parse().public_key and raw.lock_response is None


@pytest.mark.anyio
async def test_async_calls_and_streams(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.fail_next(1, status=503, retry_after=0, route=CONFIDENTIAL_ROUTE)

    async def no_wait(_: float) -> None:
        return None

    sdk._runtime.async_sleep = no_wait
    raw = await sdk.confidential_chat.with_raw_response.create_async(messages=HELLO, model=CHAT_MODEL)
    assert raw.status_code == 200 and raw.lock_response is not None
    assert raw.parse().receipt is not None
    raw_stream = sdk.confidential_chat.with_raw_response.create_stream_async
    opened = await raw_stream(messages=HELLO, model=CHAT_MODEL)
    async with opened.parse() as stream:
        assert [event async for event in stream]
    assert opened.status_code == 200 and opened.lock_response is not None
    _no_token(raw, node)
    await sdk.aclose()


def test_only_methods_are_offered(sdk: AtomaSDK) -> None:
    with pytest.raises(AttributeError):
        sdk.health.with_raw_response._runtime  # noqa: B018
    with pytest.raises(AttributeError):
        sdk.health.with_raw_response.no_such_method  # noqa: B018
