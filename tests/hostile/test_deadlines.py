"""``timeout_ms`` is a deadline: a server dripping one byte every 0.5 s cannot stall a call.

Bounds are generous (the suite runs on busy machines): the point is seconds, not the 30 s+ a drip used to
hold a call for.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from atoma_sdk import AtomaSDK, errors
from atoma_sdk.utils import BackoffStrategy, RetryConfig

from .conftest import MESSAGES, TOKEN, make_sdk
from .server import HostileServer, Seen, answer, drip, head, lock_body

TIMEOUT_MS = 2000
#: timeout_ms + 10% (the issue's bound) plus slack for a loaded machine.
BOUND_S = TIMEOUT_MS / 1000 * 1.1 + 1.5
BODY = b'{"public_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","node_small_id":1,"stack_small_id":7}'


def dripped_body(seen: Seen) -> Any:
    return [head(200, {"Content-Type": "application/json"}, length=len(BODY)), *drip(BODY)]


def dripped_headers(seen: Seen) -> Any:
    return drip(head(200, {"Content-Type": "application/json"}, length=len(BODY)) + BODY)


def on_chat(reply: Any) -> Any:
    return lambda seen: reply(seen) if "confidential" in seen.path else answer(200, lock_body())


@pytest.fixture
def sdk(server: HostileServer) -> Any:
    with make_sdk(server, timeout_ms=TIMEOUT_MS) as client:
        yield client


@pytest.mark.parametrize("reply", [dripped_body, dripped_headers])
def test_a_dripped_lock_call_ends_at_its_deadline(server: HostileServer, sdk: AtomaSDK, reply: Any) -> None:
    server.reply = reply
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        sdk.nodes.nodes_create_lock(model="m")
    assert time.monotonic() - started < BOUND_S


@pytest.mark.anyio
@pytest.mark.parametrize("reply", [dripped_body, dripped_headers])
async def test_a_dripped_lock_call_ends_at_its_deadline_async(
    server: HostileServer, sdk: AtomaSDK, reply: Any
) -> None:
    server.reply = reply
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        await sdk.nodes.nodes_create_lock_async(model="m")
    assert time.monotonic() - started < BOUND_S


def test_a_confidential_unit_shares_one_deadline(server: HostileServer, sdk: AtomaSDK) -> None:
    # The lock answers after a pause, then the chat route drips: lock + send + read fit in one timeout_ms.
    def slow_lock(seen: Seen) -> Any:
        if "confidential" in seen.path:
            return dripped_body(seen)
        return [1.2, *answer(200, lock_body())]

    server.reply = slow_lock
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        sdk.confidential_chat.create(messages=MESSAGES, model="m")
    assert time.monotonic() - started < BOUND_S


@pytest.mark.anyio
async def test_a_confidential_call_ends_at_its_deadline_async(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = on_chat(dripped_body)
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        await sdk.confidential_chat.create_async(messages=MESSAGES, model="m")
    assert time.monotonic() - started < BOUND_S


def test_no_attempt_starts_after_the_retry_budget(server: HostileServer) -> None:
    budget_ms = 1500
    retries = RetryConfig("backoff", BackoffStrategy(10, 50, 1.5, budget_ms), retry_connection_errors=True)
    server.reply = dripped_body
    with make_sdk(server, timeout_ms=400, retry_config=retries) as client:
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError):
            client.nodes.nodes_create_lock(model="m")
        elapsed = time.monotonic() - started
    assert len(server.seen) >= 2  # it did retry
    assert elapsed < budget_ms / 1000 + 0.4 * 1.1 + 1.5


def test_a_client_the_user_passes_is_bounded_between_chunks(server: HostileServer) -> None:
    # Documented: a user's client keeps its own transport; the body reader still checks the deadline.
    server.reply = dripped_body
    user = httpx.Client()
    with user, AtomaSDK(bearer_auth=TOKEN, server_url=server.url, client=user, timeout_ms=TIMEOUT_MS,
                        retry_config=None) as client:
        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError):
            client.nodes.nodes_create_lock(model="m")
        assert time.monotonic() - started < BOUND_S + 0.5


def chunk_event(i: int) -> bytes:
    return (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
        b'[{"index":0,"delta":{"content":"x"}}]}\n\n'
    )


def test_a_stream_keeps_its_idle_timeout_and_gets_an_optional_total_deadline(server: HostileServer) -> None:
    def trickle(seen: Seen) -> Any:
        steps: list[Any] = [head(200, {"Content-Type": "text/event-stream"})]
        for i in range(100):
            steps += [chunk_event(i), 0.3]
        return steps

    server.reply = trickle
    with make_sdk(server, stream_deadline_ms=1500) as client:
        started = time.monotonic()
        items = []
        with pytest.raises(errors.APITimeoutError):
            for item in client.chat.create_stream(messages=MESSAGES, model="m"):
                items.append(item)
        assert time.monotonic() - started < 1.5 + 0.3 + 1.5
    assert items  # events arrived before the deadline; only the total bound ended it
