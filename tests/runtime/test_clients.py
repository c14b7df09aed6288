"""Client lifecycle: lazy creation, one shared pool, ownership, closing, finalizers, threads, timeouts."""

from __future__ import annotations

import gc
import threading
from typing import Any

import httpx
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.operation import RequestOptions

from .conftest import CHAT, PARAMS, SDK, hang, no_wait, reply


def test_clients_are_created_lazily_and_shared(server: Any) -> None:
    sdk = SDK(server_url=server.url)
    assert sdk._runtime.clients._client is None and sdk._runtime.clients._async_client is None
    sdk._runtime.call(CHAT, PARAMS)
    first = sdk._runtime.clients._client
    sdk._runtime.call(CHAT, PARAMS)
    assert first is not None and sdk._runtime.clients._client is first
    sdk.close()
    assert first.is_closed


def test_owned_client_has_finite_default_timeouts(server: Any) -> None:
    with SDK(server_url=server.url) as sdk:
        timeout = sdk._runtime.clients.sync().timeout
    assert timeout.connect == 5.0 and timeout.read == 600.0 and timeout.pool == 600.0


def test_with_block_closes_owned_client(server: Any) -> None:
    with SDK(server_url=server.url) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
        client = sdk._runtime.clients._client
    assert client is not None and client.is_closed


def test_close_then_reuse_raises_instead_of_reopening(server: Any) -> None:
    sdk = SDK(server_url=server.url)
    sdk._runtime.call(CHAT, PARAMS)
    old = sdk._runtime.clients._client
    sdk.close()
    with pytest.raises(errors.ClientClosedError):
        sdk._runtime.call(CHAT, PARAMS)
    assert old is not None and old.is_closed and sdk._runtime.clients._client is None
    sdk.close()


def test_user_client_is_used_and_never_closed(server: Any) -> None:
    user = httpx.Client(headers={"X-From-User": "yes"})
    with SDK(server_url=server.url, client=user) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    sdk.close()
    del sdk
    gc.collect()
    assert not user.is_closed
    assert server.seen[0].headers["x-from-user"] == "yes"
    user.close()


def test_user_client_headers_cookies_and_params_merge_as_httpx_does(server: Any) -> None:
    """The SDK's own request building keeps httpx's merge: client headers it does not set, its own headers
    over the client's (any case), and httpx's path for a client's cookies and query parameters."""
    plain = httpx.Client(headers={"X-From-User": "yes", "accept": "text/plain", "user-agent": "theirs"})
    with SDK(server_url=server.url, client=plain) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    first = server.seen[0].headers
    assert first["x-from-user"] == "yes"
    assert first["accept"] == "application/json" and first["user-agent"] != "theirs"
    jarred = httpx.Client(cookies={"c": "1"}, params={"p": "2"})
    with SDK(server_url=server.url, client=jarred) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert server.seen[1].headers["cookie"] == "c=1" and server.seen[1].path.endswith("?p=2")
    plain.close()
    jarred.close()


def test_finalizer_closes_owned_client(server: Any) -> None:
    sdk = SDK(server_url=server.url)
    sdk._runtime.call(CHAT, PARAMS)
    client = sdk._runtime.clients._client
    assert client is not None and not client.is_closed
    del sdk
    gc.collect()
    assert client.is_closed


def test_user_client_timeout_is_not_overridden(server: Any) -> None:
    user = httpx.Client(timeout=0.2)
    sdk = SDK(server_url=server.url, client=user, retry_config=None)
    server.push(hang(server))
    with pytest.raises(errors.APITimeoutError):
        sdk._runtime.call(CHAT, PARAMS)
    user.close()


def test_timeout_ms_overrides_user_client_timeout(server: Any) -> None:
    user = httpx.Client(timeout=0.2)
    sdk = SDK(server_url=server.url, client=user, retry_config=None)
    seen: list[Any] = []

    class Peek:
        def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
            seen.append(request.extensions["timeout"])
            return request

    sdk.hooks.register_before_request_hook(Peek())
    sdk._runtime.call(CHAT, PARAMS)
    sdk._runtime.call(CHAT, PARAMS, RequestOptions(timeout_ms=30_000))
    assert seen[0]["read"] == 0.2 and seen[1]["read"] == 30.0 and seen[1]["connect"] == 30.0
    user.close()


def test_threads_share_one_sdk_and_one_client(server: Any) -> None:
    sdk = SDK(server_url=server.url, bearer_auth="tok")
    no_wait(sdk)
    server.push(*[reply(503, {})] * 4)  # some threads see a retry
    results: list[str] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(5):
                results.append(sdk._runtime.call(CHAT, PARAMS).id)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    clients = {id(sdk._runtime.clients._client)}
    sdk.close()
    assert failures == [] and results == ["r1"] * 40
    assert len(clients) == 1 and len(server.seen) == 44
    assert all(s.headers["authorization"] == "Bearer tok" for s in server.seen)


@pytest.mark.anyio
async def test_async_with_closes_owned_async_client(server: Any) -> None:
    async with SDK(server_url=server.url) as sdk:
        await sdk._runtime.call_async(CHAT, PARAMS)
        client = sdk._runtime.clients._async_client
    assert client is not None and client.is_closed


@pytest.mark.anyio
async def test_user_async_client_is_never_closed(server: Any) -> None:
    async with httpx.AsyncClient() as user:
        async with SDK(server_url=server.url, async_client=user) as sdk:
            await sdk._runtime.call_async(CHAT, PARAMS)
        await sdk.aclose()
        assert not user.is_closed
        with pytest.raises(errors.ClientClosedError):
            await sdk._runtime.call_async(CHAT, PARAMS)


@pytest.mark.parametrize("client_headers", [{}, {"X-A": "1", "accept": "text/plain"}, {"user-agent": "u"}])
@pytest.mark.parametrize("method", ["POST", "GET", "PUT", "DELETE"])
@pytest.mark.parametrize("body", [None, b"", b'{"a":1}'])
@pytest.mark.parametrize("url", ["http://h:8080/v1/x", "https://h/v1/y?q=1", "http://127.0.0.1/p"])
def test_sdk_built_requests_equal_httpx_built_ones(
    client_headers: dict[str, str], method: str, body: bytes | None, url: str
) -> None:
    """Same header list in the same order (Host first, the length last or second), body, URL, timeout."""
    from atoma_sdk._runtime.clients import build_request

    timeout = httpx.Timeout(5.0)
    own = {"User-Agent": "sdk", "Accept": "application/json", "Authorization": "Bearer k"}
    if body is not None:
        own["Content-Type"] = "application/json"
    with httpx.Client(headers=client_headers) as client:
        ours = build_request(client, method, httpx.URL(url), body, own, timeout)
        theirs = client.build_request(method, httpx.URL(url), content=body, headers=own, timeout=timeout)
    assert ours.headers.raw == theirs.headers.raw
    assert (ours.method, ours.url, ours.content, ours.extensions) == (
        theirs.method, theirs.url, theirs.content, theirs.extensions
    )
    assert type(ours.stream) is type(theirs.stream)


def test_a_client_host_or_length_header_takes_httpx_path() -> None:
    from atoma_sdk._runtime.clients import build_request

    timeout = httpx.Timeout(5.0)
    with httpx.Client(headers={"Host": "elsewhere"}) as client:
        ours = build_request(client, "POST", httpx.URL("http://h/x"), b"{}", {"Accept": "a"}, timeout)
        theirs = client.build_request("POST", httpx.URL("http://h/x"), content=b"{}", headers={"Accept": "a"})
    assert ours.headers.raw == theirs.headers.raw and ours.headers["host"] == "elsewhere"
