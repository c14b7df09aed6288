"""The aiohttp backend (``DefaultAioHttpClient``) against scripted loopback servers: the same answers and the
same typed errors as the default transport, never a followed redirect, and SDK ownership of the client."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from atoma_sdk import DefaultAioHttpClient, errors
from atoma_sdk._runtime.operation import RequestOptions

from .conftest import CHAT, OK_BODY, PARAMS, SDK, STREAM, dropped, hang, no_wait, reply, sse

BACKENDS = ["default", "aiohttp"]


def _sdk(server: Any, backend: str, **kwargs: Any) -> SDK:
    client = DefaultAioHttpClient() if backend == "aiohttp" else None
    sdk = SDK(bearer_auth="t", server_url=server.url, async_client=client, retry_config=None, **kwargs)
    no_wait(sdk)
    return sdk


def _run(sdk: SDK, work: Callable[[SDK], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with sdk:
            return await work(sdk)

    return asyncio.run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_json_call_and_gzip_body_decoded_once(server: Any, backend: str) -> None:
    body = gzip.compress(json.dumps(OK_BODY).encode())
    server.push(reply(200, OK_BODY), reply(200, body, {"Content-Encoding": "gzip"}))

    async def work(sdk: SDK) -> Any:
        return [await sdk._runtime.call_async(CHAT, PARAMS) for _ in range(2)]

    plain, zipped = _run(_sdk(server, backend), work)
    assert plain.id == zipped.id == "r1"
    assert server.seen[0].headers["authorization"] == "Bearer t"


@pytest.mark.parametrize("backend", BACKENDS)
def test_redirect_is_never_followed(server: Any, backend: str) -> None:
    server.push(reply(302, b"", {"Location": server.url + "/elsewhere"}), reply(200, OK_BODY))

    async def work(sdk: SDK) -> Any:
        return await sdk._runtime.call_async(CHAT, PARAMS)

    with pytest.raises(errors.AtomaError):
        _run(_sdk(server, backend), work)
    assert [seen.path for seen in server.seen] == ["/v1/chat"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_status_errors_and_cut_bodies_are_typed(server: Any, backend: str) -> None:
    server.push(reply(500, {"error": "boom"}), dropped())

    async def work(sdk: SDK) -> list[type[BaseException]]:
        raised: list[type[BaseException]] = []
        for _ in range(2):
            try:
                await sdk._runtime.call_async(CHAT, PARAMS)
            except errors.AtomaError as exc:
                raised.append(type(exc))
        return raised

    kinds = _run(_sdk(server, backend), work)
    assert kinds[0] is errors.InternalServerError
    assert issubclass(kinds[1], errors.APIConnectionError)


@pytest.mark.parametrize("backend", BACKENDS)
def test_deadline_is_a_typed_timeout(server: Any, backend: str) -> None:
    server.push(hang(server))

    async def work(sdk: SDK) -> Any:
        return await sdk._runtime.call_async(CHAT, PARAMS, RequestOptions(timeout_ms=300))

    with pytest.raises(errors.APITimeoutError):
        _run(_sdk(server, backend), work)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_and_a_stream_cut_midway(server: Any, backend: str) -> None:
    events = [json.dumps({"id": "c", "delta": d}) for d in "abc"]
    server.push(sse([*events, "[DONE]"]), sse(events, drop=True))

    async def work(sdk: SDK) -> tuple[str, type[BaseException] | None]:
        stream = await sdk._runtime.stream_async(STREAM, PARAMS)
        async with stream:
            text = "".join([chunk.delta async for chunk in stream])
        failure: type[BaseException] | None = None
        try:
            async with await sdk._runtime.stream_async(STREAM, PARAMS) as cut:
                async for _ in cut:
                    pass
        except errors.AtomaError as exc:
            failure = type(exc)
        return text, failure

    text, failure = _run(_sdk(server, backend), work)
    assert text == "abc"
    assert failure is not None and issubclass(failure, errors.APIConnectionError)


def test_client_is_owned_closed_and_refused_to_a_second_sdk(server: Any) -> None:
    client = DefaultAioHttpClient()
    sdk = SDK(bearer_auth="t", server_url=server.url, async_client=client)
    assert sdk._runtime.clients.owns_async_client
    with pytest.raises(errors.RequestValidationError, match="one DefaultAioHttpClient per SDK"):
        SDK(async_client=client)
    server.push(reply(200, OK_BODY))

    async def main() -> None:
        await sdk._runtime.call_async(CHAT, PARAMS)
        await sdk.aclose()
        assert client.is_closed
        # A closed SDK never reopens its client (a forked child gets a fresh one: ``fresh()``).
        with pytest.raises(errors.ClientClosedError):
            await sdk._runtime.call_async(CHAT, PARAMS)
        again = client.fresh()
        assert isinstance(again, DefaultAioHttpClient) and again is not client and not again.is_closed
        await again.aclose()

    asyncio.run(main())


def test_settings_and_refusals() -> None:
    client = DefaultAioHttpClient(timeout=httpx.Timeout(3.0))
    assert client.timeout.read == 3.0 and not client.follow_redirects
    assert type(client._transport).__module__ == "atoma_sdk._runtime.aio"
    with pytest.raises(errors.RequestValidationError, match="redirects"):
        DefaultAioHttpClient(follow_redirects=True)
    asyncio.run(client.aclose())
    # Any other client passed in stays the user's.
    mine = httpx.AsyncClient()
    assert not SDK(async_client=mine)._runtime.clients.owns_async_client
