"""openai-style client options on a scripted loopback server: the server-URL variable, default headers,
``max_retries=``, ``timeout=``, ``with_options`` copies, closed clients and header validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.config import SERVER_URL_ENV, SERVERS
from atoma_sdk._runtime.operation import RequestOptions
from atoma_sdk.utils import RetryConfig

from .conftest import CHAT, HEALTH, PARAMS, SDK, STREAM, hang, no_wait, reply, sse


class _Timeouts:
    """A before-request hook recording each attempt's timeout extension."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float | None]] = []

    def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
        self.seen.append(dict(request.extensions["timeout"]))
        return request


# -- ATOMASDK_SERVER_URL ------------------------------------------------------------------------------------


def test_server_url_variable_is_used_when_no_server_is_given(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_URL_ENV, server.url + "/")
    with SDK() as sdk:
        assert sdk.sdk_configuration.server_url == server.url
        assert sdk._runtime.call(CHAT, PARAMS).id == "r1"
    assert len(server.seen) == 1


def test_server_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVER_URL_ENV, "http://from-env.invalid")
    assert SDK(server_url="http://given.invalid", server_idx=0).sdk_configuration.server_url == (
        "http://given.invalid"
    )
    assert SDK(server_idx=0).sdk_configuration.server_url == SERVERS[0]
    assert SDK().sdk_configuration.server_url == "http://from-env.invalid"
    monkeypatch.setenv(SERVER_URL_ENV, "  ")
    assert SDK().sdk_configuration.server_url == SERVERS[0]
    monkeypatch.delenv(SERVER_URL_ENV)
    assert SDK().sdk_configuration.server_url == SERVERS[0]


# -- default_headers ----------------------------------------------------------------------------------------


def test_default_headers_reach_the_server_and_a_call_headers_win(server: Any) -> None:
    with SDK(server_url=server.url, default_headers={"X-Team": "a", "X-Trace": "t"}) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
        sdk._runtime.call(CHAT, PARAMS, RequestOptions(http_headers={"X-Trace": "call"}))
    first, second = (seen.headers for seen in server.seen)
    assert first["x-team"] == "a" and first["x-trace"] == "t"
    assert second["x-team"] == "a" and second["x-trace"] == "call"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Key": "sk-secret\r\nInjected: 1"},
        {"X-Key": "sk-secret\x00"},
        {"X-Key": "sk-secrét"},
        {"Bad Name": "v"},
    ],
)
def test_invalid_header_values_are_refused_without_echoing_them(server: Any, headers: dict[str, str]) -> None:
    with pytest.raises(errors.RequestValidationError) as refused:
        SDK(server_url=server.url, default_headers=headers)
    assert "sk-secret" not in str(refused.value) and "Injected" not in str(refused.value)
    with SDK(server_url=server.url) as sdk:
        with pytest.raises(errors.RequestValidationError) as per_call:
            sdk._runtime.call(CHAT, PARAMS, RequestOptions(http_headers=headers))
        with pytest.raises(errors.RequestValidationError):
            sdk.with_options(default_headers=headers)
    assert "sk-secret" not in str(per_call.value)
    assert server.seen == []  # nothing was sent


def test_header_values_must_be_strings(server: Any) -> None:
    with pytest.raises(errors.RequestValidationError, match="not a str"):
        SDK(server_url=server.url, default_headers={"X-N": 3})  # type: ignore[dict-item]


# -- max_retries --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_max_retries_is_the_default_backoff_with_n_retries(server: Any, retries: int) -> None:
    sdk = SDK(server_url=server.url, max_retries=retries)
    sleeps = no_wait(sdk)
    server.push(*[reply(503, {})] * 10)
    with pytest.raises(errors.ServiceUnavailableError):
        sdk._runtime.call(CHAT, PARAMS)
    assert len(server.seen) == retries + 1 and len(sleeps.delays) == retries
    sdk.close()


def test_max_retries_and_retry_config_do_not_combine(server: Any) -> None:
    with pytest.raises(TypeError, match="max_retries"):
        SDK(server_url=server.url, max_retries=2, retry_config=RetryConfig("none"))
    with pytest.raises(TypeError, match="max_retries"):
        SDK(server_url=server.url, max_retries=True)
    with pytest.raises(errors.RequestValidationError):
        SDK(server_url=server.url, max_retries=-1)


# -- timeout ------------------------------------------------------------------------------------------------


def test_timeout_in_seconds_equals_timeout_ms(server: Any) -> None:
    seen: list[list[dict[str, float | None]]] = []
    for options in ({"timeout": 2.5}, {"timeout_ms": 2500}):
        hook = _Timeouts()
        with SDK(server_url=server.url, hooks=[hook], **options) as sdk:
            assert sdk.sdk_configuration.timeout_ms == 2500
            sdk._runtime.call(CHAT, PARAMS)
        seen.append(hook.seen)
    assert seen[0] == seen[1] == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]


def test_an_httpx_timeout_sets_each_phase(server: Any) -> None:
    hook = _Timeouts()
    phases = httpx.Timeout(connect=1.0, read=7.0, write=3.0, pool=2.0)
    with SDK(server_url=server.url, timeout=phases, hooks=[hook]) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
        sdk._runtime.call(CHAT, PARAMS, RequestOptions(timeout_ms=9000))  # a call's timeout_ms wins
    assert hook.seen[0] == {"connect": 1.0, "read": 7.0, "write": 3.0, "pool": 2.0}
    assert hook.seen[1] == {"connect": 9.0, "read": 9.0, "write": 9.0, "pool": 9.0}


def test_a_short_timeout_fails_a_silent_server(server: Any) -> None:
    server.push(hang(server))
    sdk = SDK(server_url=server.url, timeout=0.3, retry_config=None)
    with sdk, pytest.raises(errors.APITimeoutError):
        sdk._runtime.call(CHAT, PARAMS)


def test_timeout_arguments_are_checked(server: Any) -> None:
    with pytest.raises(TypeError, match="timeout"):
        SDK(server_url=server.url, timeout=1.0, timeout_ms=1000)
    with pytest.raises(TypeError):
        SDK(server_url=server.url, timeout="5")  # type: ignore[arg-type]
    with pytest.raises(errors.RequestValidationError):
        SDK(server_url=server.url, timeout=0)


# -- with_options -------------------------------------------------------------------------------------------


def test_with_options_changes_only_what_it_is_given_and_shares_resources(server: Any) -> None:
    hook = _Timeouts()
    sdk = SDK(server_url=server.url, bearer_auth="tok", default_headers={"X-A": "1"}, hooks=[hook])
    copy = sdk.with_options(timeout=4, default_headers={"X-B": "2"}, max_retries=0)
    assert copy._runtime.clients is sdk._runtime.clients and copy.hooks is sdk.hooks
    assert copy.sdk_configuration.server_url == server.url and copy.sdk_configuration.token() == "tok"
    assert sdk.sdk_configuration.timeout_ms is None and copy.sdk_configuration.timeout_ms == 4000
    server.push(reply(503, {}))
    with pytest.raises(errors.ServiceUnavailableError):
        copy._runtime.call(CHAT, PARAMS)  # no retry on the copy
    assert sdk._runtime.call(CHAT, PARAMS).id == "r1"
    copied, original = (seen.headers for seen in server.seen)
    assert copied["x-a"] == "1" and copied["x-b"] == "2" and copied["authorization"] == "Bearer tok"
    assert original["x-a"] == "1" and "x-b" not in original
    assert hook.seen[0]["read"] == 4.0 and hook.seen[1]["read"] != 4.0
    client = sdk._runtime.clients._client
    copy.close()  # closes nothing shared
    assert client is not None and not client.is_closed
    assert copy._runtime.call(CHAT, PARAMS).id == "r1"
    sdk.close()
    assert client.is_closed


def test_with_options_can_point_at_another_server_and_token(server: Any) -> None:
    with SDK(server_url="http://127.0.0.1:9", bearer_auth="one") as sdk:
        other = sdk.with_options(server_url=server.url + "/", bearer_auth="two")
        other._runtime.call(CHAT, PARAMS)
    assert server.seen[0].headers["authorization"] == "Bearer two"
    with pytest.raises(TypeError):
        SDK(server_url=server.url).with_options(max_retries=1, retry_config=None)


def test_a_closed_sdk_and_its_copies_refuse_calls(server: Any) -> None:
    sdk = SDK(server_url=server.url)
    copy = sdk.with_options(timeout_ms=1000)
    sdk._runtime.call(CHAT, PARAMS)
    sdk.close()
    for closed in (sdk, copy, copy.with_options(max_retries=2)):
        with pytest.raises(errors.ClientClosedError, match="closed"):
            closed._runtime.call(CHAT, PARAMS)
        with pytest.raises(errors.ClientClosedError):
            closed._runtime.stream(STREAM, PARAMS)
    assert sdk._runtime.clients._client is None  # never reopened
    assert len(server.seen) == 1


def test_a_closed_sdk_with_a_user_client_refuses_calls_and_leaves_the_client_open(server: Any) -> None:
    user = httpx.Client()
    sdk = SDK(server_url=server.url, client=user)
    sdk.close()
    with pytest.raises(errors.ClientClosedError):
        sdk._runtime.call(HEALTH, {})
    assert not user.is_closed
    user.close()


@pytest.mark.anyio
async def test_async_closed_sdk_and_copies_refuse_calls(server: Any) -> None:
    server.push(reply(200, {"id": "r1", "choices": []}), sse(['{"id": "s", "delta": "x"}', "[DONE]"]))
    async with SDK(server_url=server.url) as sdk:
        copy = sdk.with_options(default_headers={"X-Copy": "1"})
        assert (await copy._runtime.call_async(CHAT, PARAMS)).id == "r1"
        stream = await copy._runtime.stream_async(STREAM, PARAMS)
        assert [item.delta async for item in stream] == ["x"]
        await copy.aclose()  # nothing shared is closed
        assert (await sdk._runtime.call_async(CHAT, PARAMS)).id == "r1"
    for closed in (sdk, copy):
        with pytest.raises(errors.ClientClosedError):
            await closed._runtime.call_async(CHAT, PARAMS)
        with pytest.raises(errors.ClientClosedError):
            await closed._runtime.stream_async(STREAM, PARAMS)
    assert server.seen[0].headers["x-copy"] == "1" and "x-copy" not in server.seen[2].headers
