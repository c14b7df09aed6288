"""The SDK's own clients honour httpx's proxy variables (``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``).

httpx reads them only for a client built without a transport; the SDK's default clients are built with
one, so the SDK mounts the same proxies itself. The "proxy" here is a loopback server that records the
request it gets and answers it; no request leaves the machine.
"""

from __future__ import annotations

import asyncio

import pytest

from atoma_sdk import errors

from .conftest import CHAT, OK_BODY, PARAMS, SDK
from .test_direct_send import RawServer, raw  # noqa: F401  (the fixture)

_VARIABLES = ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")
_UPSTREAM = "http://upstream.invalid:9"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*_VARIABLES, "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_sync_calls_go_through_the_proxy_of_the_environment(
    raw: RawServer, env: pytest.MonkeyPatch, variable: str  # noqa: F811
) -> None:
    env.setenv(variable, raw.url)
    with SDK(server_url=_UPSTREAM) as sdk:
        assert sdk._runtime.call(CHAT, PARAMS).id == OK_BODY["id"]
    (seen,) = raw.take()
    assert seen.startswith(b"POST http://upstream.invalid:9/v1/chat HTTP/1.1\r\n")


def test_async_calls_go_through_the_proxy_of_the_environment(
    raw: RawServer, env: pytest.MonkeyPatch  # noqa: F811
) -> None:
    env.setenv("HTTP_PROXY", raw.url)

    async def go() -> None:
        async with SDK(server_url=_UPSTREAM) as sdk:
            assert (await sdk._runtime.call_async(CHAT, PARAMS)).id == OK_BODY["id"]

    asyncio.run(go())
    (seen,) = raw.take()
    assert seen.startswith(b"POST http://upstream.invalid:9/v1/chat HTTP/1.1\r\n")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_no_proxy_sends_direct(raw: RawServer, env: pytest.MonkeyPatch, asynchronous: bool) -> None:  # noqa: F811
    # A proxy nobody listens on: going through it would fail to connect.
    env.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    env.setenv("NO_PROXY", "127.0.0.1")
    if asynchronous:

        async def go() -> None:
            async with SDK(server_url=raw.url) as sdk:
                await sdk._runtime.call_async(CHAT, PARAMS)

        asyncio.run(go())
    else:
        with SDK(server_url=raw.url) as sdk:
            sdk._runtime.call(CHAT, PARAMS)
    (seen,) = raw.take()
    assert seen.startswith(b"POST /v1/chat HTTP/1.1\r\n")


def test_an_unusable_proxy_is_a_typed_error_without_its_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("HTTP_PROXY", "ftp://user:hunter2@proxy.invalid:21")
    with SDK(server_url=_UPSTREAM) as sdk, pytest.raises(errors.RequestValidationError) as caught:
        sdk._runtime.call(CHAT, PARAMS)
    assert "hunter2" not in str(caught.value) and "http://" in str(caught.value)


# -- the openai drop-in's transports (their default reaches the API over an SDK-owned client too) ------------


def test_the_openai_transports_forward_reads_and_send_locks_through_the_proxy(
    raw: RawServer, env: pytest.MonkeyPatch  # noqa: F811
) -> None:
    import httpx

    from atoma_sdk._runtime import serde
    from atoma_sdk.openai import AsyncConfidentialTransport, ConfidentialTransport

    serde.set_resolver(None)  # the SDK's own models (this directory's fixture installs throw-away ones)
    env.setenv("HTTP_PROXY", raw.url)
    with httpx.Client(transport=ConfidentialTransport(), base_url=_UPSTREAM + "/v1") as http:
        assert http.get("/models").status_code == 200  # a read, forwarded as it is
        http.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    async def go() -> None:
        transport = AsyncConfidentialTransport()
        async with httpx.AsyncClient(transport=transport, base_url=_UPSTREAM + "/v1") as http:
            assert (await http.get("/models")).status_code == 200

    asyncio.run(go())
    lines = [seen.split(b"\r\n", 1)[0] for seen in raw.take()]
    assert lines[0] == b"GET http://upstream.invalid:9/v1/models HTTP/1.1"
    # The confidential call starts with its lock, sent by the SDK-owned client through the same proxy (the
    # recording server's answer is no lock, so the call then fails, typed, inside the transport).
    assert lines[1].startswith(b"POST http://upstream.invalid:9/v1/") and b"lock" in lines[1]
    assert lines[-1] == b"GET http://upstream.invalid:9/v1/models HTTP/1.1"
