"""Retries over a real loopback server: Retry-After forms, backoff, per-call control, transport failures."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.operation import RequestOptions
from atoma_sdk.utils import BackoffStrategy, RetryConfig

from .conftest import (
    CHAT,
    CHAT_RAW,
    OK_BODY,
    PARAMS,
    SDK,
    ChatResponse,
    dropped,
    free_port,
    hang,
    no_wait,
    reply,
)

MakeSDK = Any


def test_retry_after_seconds(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    server.push(reply(429, {"error": "slow down"}, {"Retry-After": "2"}))
    result = sdk._runtime.call(CHAT, PARAMS)
    assert isinstance(result, ChatResponse) and result.id == "r1"
    assert sleeps.delays == [2.0]
    assert len(server.seen) == 2


def test_retry_after_http_date(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    server.push(reply(503, {}, {"Retry-After": when}))
    sdk._runtime.call(CHAT, PARAMS)
    assert len(sleeps.delays) == 1 and 1.0 < sleeps.delays[0] <= 3.0


def test_retry_after_ms(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    server.push(reply(429, {}, {"retry-after-ms": "1500"}))
    sdk._runtime.call(CHAT, PARAMS)
    assert sleeps.delays == [1.5]


def test_backoff_then_give_up_after_three_attempts(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    server.push(*[reply(503, {"error": {"code": "SERVICE_UNAVAILABLE", "message": "busy"}})] * 5)
    with pytest.raises(errors.ServiceUnavailableError) as info:
        sdk._runtime.call(CHAT, PARAMS)
    assert "busy" in str(info.value)
    assert len(server.seen) == 3
    assert len(sleeps.delays) == 2 and 0.25 <= sleeps.delays[0] <= 0.5 and 0.5 <= sleeps.delays[1] <= 1.0


@pytest.mark.parametrize("status", [408, 409, 500, 502])
def test_other_retryable_statuses(server: Any, make_sdk: MakeSDK, status: int) -> None:
    sdk, _ = make_sdk()
    server.push(reply(status, {}))
    assert sdk._runtime.call(CHAT, PARAMS).id == "r1"
    assert len(server.seen) == 2


def test_client_errors_are_not_retried(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk()
    server.push(reply(400, {"error": "bad"}))
    with pytest.raises(errors.BadRequestError):
        sdk._runtime.call(CHAT, PARAMS)
    assert len(server.seen) == 1 and sleeps.delays == []


def test_per_call_retries_none_disables(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(reply(503, {}))
    with pytest.raises(errors.ServiceUnavailableError):
        sdk._runtime.call(CHAT, PARAMS, RequestOptions(retries=None))
    assert len(server.seen) == 1


def test_sdk_retry_config_none_and_strategy_none(server: Any, make_sdk: MakeSDK) -> None:
    for config in (None, RetryConfig("none", None)):
        sdk, _ = make_sdk(retry_config=config)
        server.seen.clear()
        server.push(reply(503, {}))
        with pytest.raises(errors.ServiceUnavailableError):
            sdk._runtime.call(CHAT, PARAMS)
        assert len(server.seen) == 1


def test_per_call_config_overrides_sdk(server: Any, make_sdk: MakeSDK) -> None:
    sdk, sleeps = make_sdk(retry_config=None)
    server.push(*[reply(500, {})] * 4)
    many = RetryConfig("backoff", BackoffStrategy(10, 10, 1.0, 60_000), max_attempts=5)
    assert sdk._runtime.call(CHAT, PARAMS, RequestOptions(retries=many)).id == "r1"
    assert len(server.seen) == 5 and len(sleeps.delays) == 4


def test_connection_dropped_mid_response_is_retried(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(dropped())
    assert sdk._runtime.call(CHAT, PARAMS).id == "r1"
    assert len(server.seen) == 2


def test_connection_dropped_not_retried_for_not_sent_only(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(dropped())
    with pytest.raises(errors.APIConnectionError) as info:
        sdk._runtime.call(CHAT_RAW, PARAMS)
    assert not isinstance(info.value, errors.APITimeoutError)
    assert len(server.seen) == 1


def test_status_not_retried_for_not_sent_only(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(reply(503, {}, {"Retry-After": "1"}))
    with pytest.raises(errors.ServiceUnavailableError):
        sdk._runtime.call(CHAT_RAW, PARAMS)
    assert len(server.seen) == 1


@pytest.mark.parametrize("op", [CHAT, CHAT_RAW])
def test_connect_refused_is_retried_then_mapped(op: Any) -> None:
    attempts: list[int] = []

    class Count:
        def before_request(self, ctx: Any, request: Any) -> Any:
            attempts.append(ctx.attempt)
            return request

    with SDK(server_url=f"http://127.0.0.1:{free_port()}", hooks=[Count()]) as sdk:
        sleeps = no_wait(sdk)
        with pytest.raises(errors.APIConnectionError) as info:
            sdk._runtime.call(op, PARAMS)
    assert attempts == [1, 2, 3] and len(sleeps.delays) == 2
    assert info.value.__cause__ is not None


def test_timeout_maps_to_api_timeout_error(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk(timeout_ms=200)
    server.push(hang(server))
    with pytest.raises(errors.APITimeoutError):
        sdk._runtime.call(CHAT, PARAMS, RequestOptions(retries=None))


def test_timeout_is_retried(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(hang(server))
    result = sdk._runtime.call(CHAT, PARAMS, RequestOptions(timeout_ms=200))
    assert result.id == "r1" and len(server.seen) == 2


@pytest.mark.anyio
async def test_async_retry_after_and_backoff(server: Any) -> None:
    async with SDK(server_url=server.url) as sdk:
        sleeps = no_wait(sdk)
        server.push(reply(429, {}, {"Retry-After": "1"}), dropped())
        result = await sdk._runtime.call_async(CHAT, PARAMS)
    assert result == ChatResponse.model_validate(OK_BODY)
    assert len(server.seen) == 3 and sleeps.delays[0] == 1.0 and len(sleeps.delays) == 2


@pytest.mark.anyio
async def test_async_not_sent_only_and_refused() -> None:
    async with SDK(server_url=f"http://127.0.0.1:{free_port()}") as sdk:
        sleeps = no_wait(sdk)
        with pytest.raises(errors.APIConnectionError):
            await sdk._runtime.call_async(CHAT_RAW, PARAMS)
    assert len(sleeps.delays) == 2


@pytest.mark.anyio
async def test_async_timeout(server: Any) -> None:
    async with SDK(server_url=server.url, timeout_ms=200) as sdk:
        no_wait(sdk)
        server.push(hang(server))
        with pytest.raises(errors.APITimeoutError):
            await sdk._runtime.call_async(CHAT, PARAMS, RequestOptions(retries=None))
