"""The bearer token is unreachable from errors, chains, frame locals and pickles; no redirect is followed."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import AtomaSDK, errors

from .conftest import TOKEN, make_sdk
from .server import HostileServer, Seen, answer, lock_body


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def assert_unreachable(exc: BaseException, secret: str) -> None:
    """``secret`` is in no str/repr/args of the chain, no formatted traceback, no pickle, no frame local of
    the SDK's frames (nor a request or response a local holds)."""
    assert secret not in "".join(traceback.format_exception(exc))
    for item in chain(exc):
        assert secret not in str(item) and secret not in repr(item) and secret not in repr(item.args)
        if isinstance(item, errors.AtomaError):
            assert secret.encode() not in pickle.dumps(item)
        tb = item.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if "atoma_sdk" in frame.f_code.co_filename:
                for name, value in frame.f_locals.items():
                    assert secret not in repr(value), (frame.f_code.co_name, name)
                    assert secret not in _deep(value), (frame.f_code.co_name, name)
            tb = tb.tb_next


def _deep(value: Any) -> str:
    """What a request or response a local holds would reveal (headers, bodies)."""
    parts: list[str] = []
    for obj in (value, getattr(value, "raw_response", None), getattr(value, "request", None)):
        if isinstance(obj, httpx.Response):
            parts += [str(obj.headers.raw), repr(getattr(obj, "_content", b"")), str(obj.request.headers.raw)]
        if isinstance(obj, httpx.Request):
            parts.append(str(obj.headers.raw))
    return "".join(parts)


@pytest.mark.parametrize("bad", [TOKEN + "\n", TOKEN + "\r\nX-Injected: 1", TOKEN + "é"])
def test_an_invalid_token_is_refused_before_sending_without_echo(server: HostileServer, bad: str) -> None:
    with make_sdk(server, bearer_auth=bad) as sdk, pytest.raises(errors.HeaderValidationError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert "Authorization" in str(caught.value)
    assert_unreachable(caught.value, TOKEN)
    assert server.seen == []


def test_a_refused_user_header_leaves_the_token_in_no_sdk_frame(server: HostileServer, sdk: AtomaSDK) -> None:
    with pytest.raises(errors.HeaderValidationError) as caught:
        sdk.nodes.nodes_create_lock(model="m", http_headers={"X-Trace": "line\nbreak"})
    assert "X-Trace" in str(caught.value)
    assert_unreachable(caught.value, TOKEN)  # the bearer token, which the SDK itself holds
    assert server.seen == []


@pytest.mark.anyio
async def test_an_invalid_user_header_is_refused_async(server: HostileServer, sdk: AtomaSDK) -> None:
    with pytest.raises(errors.HeaderValidationError) as caught:
        await sdk.nodes.nodes_create_lock_async(model="m", http_headers={"X-Key": TOKEN + "\n"})
    # The caller's own argument stays in the caller's frames; the error and its chain never echo it.
    assert "X-Key" in str(caught.value)
    assert all(TOKEN not in repr(item) for item in chain(caught.value))
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


def echo(seen: Seen) -> Any:
    auth = seen.headers["authorization"]
    body = {"error": {"code": "AUTH_ERROR", "message": f"unknown token {auth}"}, "echo": auth}
    return answer(401, body, {"X-Echo": auth})


def test_a_server_echoing_the_token_gets_it_redacted(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = echo
    with pytest.raises(errors.AuthenticationError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    error = caught.value
    assert "<redacted>" in str(error) and error.body["echo"] == "Bearer <redacted>"
    assert error.headers["x-echo"] == "Bearer <redacted>"
    assert_unreachable(error, TOKEN)
    twin = pickle.loads(pickle.dumps(error))
    assert type(twin) is errors.AuthenticationError and twin.status_code == 401 and twin.raw_response is None


@pytest.mark.anyio
async def test_a_server_echoing_the_token_async_and_in_a_confidential_call(
    server: HostileServer, sdk: AtomaSDK
) -> None:
    server.reply = lambda seen: echo(seen) if "confidential" in seen.path else answer(200, lock_body())
    with pytest.raises(errors.AuthenticationError) as caught:
        await sdk.confidential_chat.create_async(messages=[{"role": "user", "content": "x"}], model="m")
    assert_unreachable(caught.value, TOKEN)


def test_a_transport_failure_chain_carries_no_token(sdk: AtomaSDK, server: HostileServer) -> None:
    server.reply = lambda seen: [b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{"]  # cut short
    with pytest.raises(errors.APIConnectionError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert_unreachable(caught.value, TOKEN)


def test_a_huge_server_message_is_cut_in_str_and_whole_on_body(server: HostileServer, sdk: AtomaSDK) -> None:
    message = "m" * 900_000
    server.reply = lambda seen: answer(500, {"error": {"code": "BIG", "message": message}})
    with pytest.raises(errors.InternalServerError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    text = str(caught.value)
    assert len(text) < 1100 and text.endswith(f"… ({len('BIG: ' + message) - 1000} more)")
    assert caught.value.body["error"]["message"] == message


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(server: HostileServer, status: int) -> None:
    target = "http://127.0.0.1:9/steal?token=" + TOKEN[:8]
    server.reply = lambda seen: answer(status, b"", {"Location": target})
    user = httpx.Client(follow_redirects=True)
    for client in (None, user):
        with make_sdk(server, client=client) as sdk, pytest.raises(errors.RedirectError) as caught:
            sdk.nodes.nodes_create_lock(model="m")
        assert caught.value.status_code == status
        assert target not in str(caught.value) and target not in repr(caught.value)
    user.close()
    assert len(server.seen) == 2  # one request each: nothing went to the Location


@pytest.mark.anyio
async def test_redirects_are_never_followed_async(server: HostileServer) -> None:
    server.reply = lambda seen: answer(302, b"", {"Location": "/elsewhere"})
    user = httpx.AsyncClient(follow_redirects=True)
    async with user:
        sdk = make_sdk(server, async_client=user)
        with pytest.raises(errors.RedirectError):
            await sdk.nodes.nodes_create_lock_async(model="m")
    assert [seen.path for seen in server.seen] == ["/v1/nodes/lock"]


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_refused_body_carries_no_token(server: HostileServer, sdk: AtomaSDK, coding: str) -> None:
    from .server import bomb

    server.reply = lambda seen: answer(200, bomb(), {"Content-Encoding": coding})
    with pytest.raises(errors.ResponseValidationError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert_unreachable(caught.value, TOKEN)
