"""The direct send of SDK-owned clients (``clients.send`` / ``send_async``) equals ``client.send``.

A raw loopback server records every request's bytes and answers scripted raw responses; each case is sent
once through the direct path and once through ``client.send(stream=True, follow_redirects=False)`` on a
fresh client of the same kind, and everything observable must match: the bytes on the wire, the response
(status, headers, body, request, redirect's next request, elapsed), the client's cookie jar, and errors
(type and message). Separate tests prove that the direct path is taken at all, and that each layer it
skips (event hooks, auth, httpx's INFO log, a closed client, env proxies) sends through ``client.send``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import DefaultAioHttpClient
from atoma_sdk._runtime import clients
from atoma_sdk._runtime.clients import build_request, owned_async_client, owned_client, send, send_async

from .conftest import CHAT, OK_BODY, PARAMS, SDK

_JSON = b'{"ok": true}'
_GZIPPED = gzip.compress(_JSON, mtime=0)
#: Raw answers by path; each is a complete HTTP/1.1 response (the connection stays open unless it says so).
ANSWERS: dict[str, bytes] = {
    "/json": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n" + _JSON,
    "/chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    ),
    "/redirect": b"HTTP/1.1 302 Found\r\nLocation: /json\r\nContent-Length: 0\r\n\r\n",
    "/redirect-away": b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://elsewhere.invalid/x\r\n"
    b"Content-Length: 0\r\n\r\n",
    "/bad-redirect": b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n",
    "/cookie": b"HTTP/1.1 200 OK\r\nSet-Cookie: flavour=oat; Path=/\r\nSet-Cookie: size=large; Path=/\r\n"
    b"Content-Length: 12\r\n\r\n" + _JSON,
    "/error": b"HTTP/1.1 404 Not Found\r\nX-Reason: nope\r\nContent-Length: 9\r\n\r\nnot found",
    "/gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_GZIPPED), _GZIPPED),
    "/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\npartial",
    "/v1/chat": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(json.dumps(OK_BODY)), json.dumps(OK_BODY).encode()),
}
PATHS = sorted(ANSWERS)


class RawServer:
    """A threaded loopback HTTP/1.1 server: records each request's raw bytes, answers from :data:`ANSWERS`
    (by path; a proxied request's absolute URL counts by its path)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                with self._lock:
                    self.seen.append(head + b"\r\n\r\n" + rest[:length])
                buffer = rest[length:]
                target = head.split(b" ")[1].decode()
                answer = ANSWERS.get(httpx.URL(target).path, ANSWERS["/json"])
                conn.sendall(answer)
                if b"Connection: close" in answer:
                    return

    def take(self) -> list[bytes]:
        with self._lock:
            seen, self.seen = self.seen, []
        return seen

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def _request(client: httpx.Client | httpx.AsyncClient, url: str) -> httpx.Request:
    headers = {"User-Agent": "sdk", "Accept": "application/json", "Authorization": "Bearer secret-token"}
    body = b'{"model": "m"}'
    return build_request(client, "POST", httpx.URL(url), body, headers, httpx.Timeout(10.0))


def _async_transport(client: httpx.AsyncClient, request: httpx.Request) -> Any:
    return clients._direct_transport(client, request, httpx.AsyncClient.send, httpx.AsyncByteStream)


def _observed(response: httpx.Response) -> dict[str, Any]:
    """Everything a caller can see of a read and closed response."""
    following = response.next_request
    return {
        "status": response.status_code,
        "headers": response.headers.multi_items(),
        "content": response.content,
        "version": response.http_version,
        "reason": response.reason_phrase,
        "history": response.history,
        "encoding": response.encoding,
        "next": None
        if following is None
        else (following.method, str(following.url), following.headers.multi_items(), following.read()),
        "elapsed_set": response.elapsed.total_seconds() >= 0,  # raises if close never set it
        "closed": response.is_closed,
    }


def _failure(exc: BaseException) -> tuple[type[BaseException], str, bool]:
    return type(exc), str(exc), getattr(exc, "_request", None) is not None


def _sync_outcome(
    make: Callable[[], httpx.Client], url: str, direct: bool, raw: RawServer
) -> tuple[Any, list[bytes], list[tuple[str, str]]]:
    client = make()
    try:
        request = _request(client, url)
        try:
            if direct:
                assert clients._direct_transport(client, request, httpx.Client.send, httpx.SyncByteStream)
                response = send(client, request, owned=True)
            else:
                response = client.send(request, stream=True, follow_redirects=False)
            assert response.request is request
            response.read()
            response.close()
            outcome: Any = _observed(response)
        except httpx.HTTPError as exc:
            outcome = _failure(exc)
        return outcome, raw.take(), sorted(client.cookies.items())
    finally:
        client.close()


async def _async_outcome(
    make: Callable[[], httpx.AsyncClient], url: str, direct: bool, raw: RawServer
) -> tuple[Any, list[bytes], list[tuple[str, str]]]:
    client = make()
    try:
        request = _request(client, url)
        try:
            if direct:
                assert _async_transport(client, request) is not None
                response = await send_async(client, request, owned=True)
            else:
                response = await client.send(request, stream=True, follow_redirects=False)
            assert response.request is request
            await response.aread()
            await response.aclose()
            outcome: Any = _observed(response)
        except httpx.HTTPError as exc:
            outcome = _failure(exc)
        return outcome, raw.take(), sorted(client.cookies.items())
    finally:
        await client.aclose()


@pytest.mark.parametrize("path", PATHS)
def test_sync_direct_send_equals_client_send(raw: RawServer, path: str) -> None:
    direct = _sync_outcome(owned_client, raw.url + path, True, raw)
    through = _sync_outcome(owned_client, raw.url + path, False, raw)
    assert direct == through
    assert direct[1], "the request reached the server"


ASYNC_CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "default": owned_async_client,
    "aiohttp": DefaultAioHttpClient,
}


@pytest.mark.parametrize("kind", sorted(ASYNC_CLIENTS))
@pytest.mark.parametrize("path", PATHS)
def test_async_direct_send_equals_client_send(raw: RawServer, path: str, kind: str) -> None:
    make = ASYNC_CLIENTS[kind]
    direct = asyncio.run(_async_outcome(make, raw.url + path, True, raw))
    through = asyncio.run(_async_outcome(make, raw.url + path, False, raw))
    assert direct == through
    assert direct[1], "the request reached the server"


def test_the_cases_cover_what_they_claim(raw: RawServer) -> None:
    """The scripted answers produce the situations the equality tests are about."""
    outcome = {path: _sync_outcome(owned_client, raw.url + path, True, raw) for path in PATHS}
    assert outcome["/redirect"][0]["next"][1] == raw.url + "/json"  # built, not followed
    assert outcome["/redirect-away"][0]["next"][2] != outcome["/redirect"][0]["next"][2]  # auth stripped
    assert outcome["/bad-redirect"][0][0] is httpx.RemoteProtocolError
    assert outcome["/cookie"][2] == [("flavour", "oat"), ("size", "large")]
    assert outcome["/gzip"][0]["content"] == b'{"ok": true}'
    assert outcome["/chunked"][0]["content"] == b"hello world"
    assert outcome["/cut"][0][0] is httpx.RemoteProtocolError
    assert outcome["/error"][0]["status"] == 404


@pytest.mark.anyio
async def test_connection_refused_is_the_same_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/json"
    for make in ASYNC_CLIENTS.values():
        outcomes = []
        for direct in (True, False):
            client = make()
            request = _request(client, url)
            with pytest.raises(httpx.ConnectError) as caught:
                if direct:
                    await send_async(client, request, owned=True)
                else:
                    await client.send(request, stream=True, follow_redirects=False)
            assert caught.value.request is request
            outcomes.append(type(caught.value))
            await client.aclose()
        assert outcomes[0] is outcomes[1]


# -- when the direct path is (not) taken -------------------------------------------------------------------


def _direct(client: httpx.AsyncClient, url: str = "http://h/x") -> bool:
    request = _request(client, url)
    return _async_transport(client, request) is not None


@pytest.mark.anyio
async def test_direct_path_is_taken_only_when_send_adds_nothing() -> None:
    plain, aio = owned_async_client(), DefaultAioHttpClient()
    assert _direct(plain) and _direct(aio)  # the SDK's own clients, as they come

    async def hook(_: Any) -> None:
        pass

    hooked = DefaultAioHttpClient(event_hooks={"response": [hook]})
    authed = httpx.AsyncClient(auth=("user", "pass"))
    patched = owned_async_client()
    original = patched.send

    async def wrapped(*args: Any, **kwargs: Any) -> httpx.Response:
        return await original(*args, **kwargs)

    patched.send = wrapped  # type: ignore[method-assign]  # an instance attribute shadows the class's
    closed = owned_async_client()
    await closed.aclose()
    assert not _direct(hooked) and not _direct(authed) and not _direct(patched) and not _direct(closed)
    assert not _direct(plain, "http://user:pw@h/x")  # httpx turns URL credentials into basic auth
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert not _direct(plain)  # httpx's INFO line per request comes from client.send
    finally:
        logger.setLevel(level)
    for client in (plain, aio, hooked, authed, patched):
        await client.aclose()


def test_a_client_the_sdk_does_not_own_is_sent_by_its_send(raw: RawServer) -> None:
    sent: list[httpx.Request] = []

    class Recording(httpx.Client):
        def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            sent.append(request)
            return super().send(request, **kwargs)

    user = Recording()
    with SDK(server_url=raw.url, client=user) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert len(sent) == 1
    user.close()
    raw.take()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(ASYNC_CLIENTS))
async def test_sdk_calls_keep_event_hooks_and_httpx_log(
    raw: RawServer, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        seen.append(f"request {request.url.path}")

    async def on_response(response: httpx.Response) -> None:
        seen.append(f"response {response.status_code}")

    hooks: dict[str, list[Callable[..., Any]]] = {"request": [on_request], "response": [on_response]}
    given = DefaultAioHttpClient(event_hooks=hooks) if kind == "aiohttp" else None
    async with SDK(server_url=raw.url, async_client=given) as sdk:
        if given is None:  # the SDK's own default client, given hooks after creation
            sdk._runtime.clients.async_().event_hooks = hooks
        result = await sdk._runtime.call_async(CHAT, PARAMS)
        assert seen == ["request /v1/chat", "response 200"]
        with caplog.at_level(logging.INFO, logger="httpx"):
            await sdk._runtime.call_async(CHAT, PARAMS)
    assert result.id == OK_BODY["id"]
    assert any(r.name == "httpx" and "HTTP Request: POST" in r.getMessage() for r in caplog.records)
    raw.take()


@pytest.mark.parametrize("how", ["env", "argument"])
def test_a_proxy_still_applies(raw: RawServer, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``DefaultAioHttpClient``'s proxy (``HTTP_PROXY`` with trust_env, or ``proxy=``) gets the SDK's
    request, in absolute form. (The SDK's own default clients are built with a transport, so httpx reads
    no proxy from the environment for them, with or without the direct path.)"""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    if how == "env":
        monkeypatch.setenv("HTTP_PROXY", raw.url)

    async def go() -> None:
        given = DefaultAioHttpClient() if how == "env" else DefaultAioHttpClient(proxy=raw.url)
        async with SDK(server_url="http://upstream.invalid:9", async_client=given) as sdk:
            await sdk._runtime.call_async(CHAT, PARAMS)

    asyncio.run(go())
    (seen,) = raw.take()
    assert seen.startswith(b"POST http://upstream.invalid:9/v1/chat HTTP/1.1\r\n")


# -- the aiohttp transport's own send ------------------------------------------------------------------------


def _lowercase_names(seen: list[bytes]) -> list[bytes]:
    normalised = []
    for message in seen:
        head, _, body = message.partition(b"\r\n\r\n")
        start, *lines = head.split(b"\r\n")
        lines = [name.lower() + b":" + value for name, _, value in (line.partition(b":") for line in lines)]
        normalised.append(b"\r\n".join([start, *lines]) + b"\r\n\r\n" + body)
    return normalised


@pytest.mark.parametrize("path", PATHS)
def test_aiohttp_send_equals_httpx_aiohttp_send(raw: RawServer, path: str) -> None:
    """The transport's own request path sends what ``httpx-aiohttp``'s does (header names keep their case,
    which HTTP ignores) and answers alike."""
    from httpx_aiohttp import AiohttpTransport

    from atoma_sdk._runtime.aio import aiohttp_transport

    async def outcome(ours: bool) -> tuple[Any, list[bytes]]:
        transport = aiohttp_transport()
        client = httpx.AsyncClient(transport=transport)
        request = _request(client, raw.url + path)
        try:
            if ours:
                response = await transport._send(request)  # type: ignore[attr-defined]
            else:
                response = await AiohttpTransport.handle_async_request(transport, request)
            await response.aread()
            seen: Any = (response.status_code, response.headers.multi_items(), response.content)
        except httpx.HTTPError as exc:
            seen = _failure(exc)
        finally:
            await transport.aclose()
        return seen, raw.take()

    ours, theirs = asyncio.run(outcome(True)), asyncio.run(outcome(False))
    assert ours[0] == theirs[0]
    assert _lowercase_names(ours[1]) == _lowercase_names(theirs[1]) and ours[1]


def test_aiohttp_send_keeps_header_case_and_repeats(raw: RawServer) -> None:
    """As httpx's default transport sends them: ``X-Twice: a`` and ``X-Twice: b``, not ``x-twice: a, b``."""
    from atoma_sdk._runtime.aio import aiohttp_transport

    async def go() -> None:
        transport = aiohttp_transport()
        request = httpx.Request(
            "POST", raw.url + "/json", headers=[("X-Twice", "a"), ("X-Twice", "b")], content=b"{}"
        )
        response = await transport.handle_async_request(request)
        await response.aread()
        await transport.aclose()

    asyncio.run(go())
    (seen,) = raw.take()
    assert b"\r\nX-Twice: a\r\nX-Twice: b\r\n" in seen


# -- a body aiohttp already holds is read at once ------------------------------------------------------------

#: (path, cap, truncate, whether the whole-body read applies): gzip, bodies over the cap (declared: refused
#: before any read; chunked: counted), an error body cut at the cap, a body that never all arrives.
WHOLE_CASES = [
    ("/json", 1024, False, True),
    ("/chunked", 1024, False, True),
    ("/chunked", 5, False, True),
    ("/gzip", 1024, False, True),
    ("/gzip", 5, False, True),
    ("/v1/chat", 16, False, False),
    ("/error", 4, True, True),
    ("/cut", 1024, False, False),
]


@pytest.mark.parametrize(("path", "limit", "truncate", "applies"), WHOLE_CASES)
def test_a_whole_buffered_body_reads_as_the_stream_does(
    raw: RawServer, path: str, limit: int, truncate: bool, applies: bool
) -> None:
    """``aread_body`` over the aiohttp transport: the whole-body read (``take_whole``) and the stream read
    give the same body, error, and response state; the whole-body read is really taken where it applies."""
    from atoma_sdk._runtime.aio import _DeadlineStream
    from atoma_sdk._runtime.bounded import aread_body

    taken: list[bool] = []
    original = _DeadlineStream.take_whole

    def spy(stream: _DeadlineStream) -> bytes | None:
        whole = original(stream)
        taken.append(whole is not None)
        return whole

    async def outcome(whole: bool) -> Any:
        client = DefaultAioHttpClient()
        request = _request(client, raw.url + path)
        response = await send_async(client, request, owned=True)
        await asyncio.sleep(0.05)  # let the rest of a small body arrive
        try:
            body = await aread_body(response, limit, truncate=truncate)
            seen: Any = (
                body,
                response.content,
                response.is_stream_consumed,
                response.is_closed,
                response.num_bytes_downloaded,
                response.elapsed.total_seconds() >= 0,
            )
        except Exception as exc:  # typed SDK errors and httpx's
            seen = (type(exc), str(exc))
        await client.aclose()
        return seen

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_DeadlineStream, "take_whole", spy)
        fast = asyncio.run(outcome(True))
        patch.setattr(_DeadlineStream, "take_whole", lambda stream: None)
        slow = asyncio.run(outcome(False))
    raw.take()
    assert fast == slow
    assert taken == ([True] if applies else [False] if path == "/cut" else [])


def test_a_whole_buffered_body_still_fails_past_the_deadline(raw: RawServer) -> None:
    from atoma_sdk._runtime import deadline
    from atoma_sdk._runtime.bounded import aread_body

    async def go() -> None:
        client = DefaultAioHttpClient()
        response = await send_async(client, _request(client, raw.url + "/json"), owned=True)
        with deadline.scope(0.05):
            await asyncio.sleep(0.1)  # the body has arrived; the deadline has passed
            assert hasattr(response.stream, "take_whole")
            with pytest.raises(httpx.ReadTimeout) as caught:
                await aread_body(response, 1024)
        assert caught.value.request is response.request
        await client.aclose()

    asyncio.run(go())
    raw.take()
