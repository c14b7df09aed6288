"""Issue 12's hostile-server guarantees hold on ``DefaultAioHttpClient`` too (issue 16).

aiohttp does not decompress (the SDK's bounded reader decodes), follows no redirect, and the attempt's
deadline is enforced around aiohttp's send and each body chunk (httpcore's socket-level backend has no hold
on it).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, DefaultAioHttpClient, errors

from .conftest import MESSAGES, TOKEN, make_sdk
from .server import HostileServer, Seen, answer, bomb, head, lock_body, streamed
from .test_deadlines import BOUND_S, TIMEOUT_MS, dripped_body, dripped_headers, on_chat
from .test_secrets import assert_unreachable, echo

pytestmark = pytest.mark.anyio


@pytest.fixture
async def aio(server: HostileServer) -> AsyncIterator[AtomaSDK]:
    async with make_sdk(server, async_client=DefaultAioHttpClient(), timeout_ms=TIMEOUT_MS) as client:
        yield client


@pytest.mark.parametrize("reply", [dripped_body, dripped_headers])
async def test_a_dripped_lock_call_ends_at_its_deadline(
    server: HostileServer, aio: AtomaSDK, reply: Any
) -> None:
    server.reply = reply
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        await aio.nodes.nodes_create_lock_async(model="m")
    assert time.monotonic() - started < BOUND_S


async def test_a_dripped_confidential_call_ends_at_its_deadline(server: HostileServer, aio: AtomaSDK) -> None:
    server.reply = on_chat(dripped_body)
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        await aio.confidential_chat.create_async(messages=MESSAGES, model="m")
    assert time.monotonic() - started < BOUND_S


async def test_a_body_that_stalls_mid_way_ends_at_its_deadline(server: HostileServer, aio: AtomaSDK) -> None:
    body = json.dumps(lock_body()).encode()
    start = head(200, {"Content-Type": "application/json"}, length=len(body)) + body[:9]
    server.reply = lambda seen: [start, 60.0]  # the rest never comes
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError):
        await aio.nodes.nodes_create_lock_async(model="m")
    assert time.monotonic() - started < BOUND_S


async def test_gzip_bomb_on_the_confidential_route(server: HostileServer, aio: AtomaSDK) -> None:
    def reply(seen: Seen) -> Any:
        if "confidential" in seen.path:
            return answer(200, bomb(), {"Content-Encoding": "gzip"})
        return answer(200, lock_body())

    server.reply = reply
    with pytest.raises(errors.ResponseTooLargeError):
        await aio.confidential_chat.create_async(messages=MESSAGES, model="m")
    assert server.seen[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_encodings_it_cannot_bound_are_refused(
    server: HostileServer, aio: AtomaSDK, coding: str
) -> None:
    server.reply = lambda seen: answer(200, bomb(), {"Content-Encoding": coding})
    with pytest.raises(errors.ResponseValidationError):
        await aio.nodes.nodes_create_lock_async(model="m")


async def test_oversized_bodies_declared_or_not(server: HostileServer, aio: AtomaSDK) -> None:
    def liar(seen: Seen) -> Any:
        return [head(200, {"Content-Type": "application/json"}, length=10 << 20) + b"{"]

    def endless(seen: Seen) -> Iterator[Any]:
        return streamed(200, (b" " * 65536 for _ in range(1000)))

    for reply in (liar, endless):
        server.reply = reply
        with pytest.raises(errors.ResponseTooLargeError):
            await aio.nodes.nodes_create_lock_async(model="m")


@pytest.mark.parametrize("status", [302, 307])
async def test_redirects_are_never_followed(server: HostileServer, aio: AtomaSDK, status: int) -> None:
    server.reply = lambda seen: answer(status, b"", {"Location": "/elsewhere"})
    with pytest.raises(errors.RedirectError) as caught:
        await aio.nodes.nodes_create_lock_async(model="m")
    assert caught.value.status_code == status
    assert [seen.path for seen in server.seen] == ["/v1/nodes/lock"]


async def test_an_honest_answer_still_works(server: HostileServer, aio: AtomaSDK) -> None:
    server.reply = lambda seen: answer(200, lock_body())
    lock = await aio.nodes.nodes_create_lock_async(model="m")
    assert lock.node_small_id == 1


@pytest.mark.parametrize("case", ["echo", "cut short", "deadline"])
async def test_no_error_chain_carries_the_token(server: HostileServer, aio: AtomaSDK, case: str) -> None:
    # aiohttp's own exceptions (chained by httpx-aiohttp) can hold the request's headers: none may leak it.
    replies: dict[str, Any] = {
        "echo": echo,
        "cut short": lambda seen: [b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{"],
        "deadline": dripped_headers,
    }
    server.reply = replies[case]
    with pytest.raises(errors.AtomaError) as caught:
        await aio.nodes.nodes_create_lock_async(model="m")
    assert_unreachable(caught.value, TOKEN)
