"""Faults between the SDK and the node: each ends in a correct result (whole-unit retries) or ONE typed error.

Nothing hangs (every test is bounded by pytest-timeout and the SDK's own timeouts), no connection stays
checked out of the SDK's pool, and a stream that broke after its first chunk never looks complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adversarial.support import (
    CHAT_PATH,
    LOCK_PATH,
    MODEL,
    NO_RETRIES,
    assert_no_checked_out,
    confidential_bodies,
    expected_text,
    messages,
    proxied,
    wait_until,
)
from atoma_sdk import errors
from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.local.tamper import RESET, Exchange, Reply, Stall, drip

pytestmark = pytest.mark.timeout(30)


def once(path: str, action: Callable[..., Any]) -> Callable[..., Any]:
    """A hook that applies ``action`` to the first exchange on ``path`` only."""
    fired: list[bool] = []

    def hook(exchange: Exchange, *rest: Any) -> Any:
        if exchange.path != path or fired:
            return None
        fired.append(True)
        return action(exchange, *rest)

    return hook


def _ok(sdk: Any, *, stream: bool = False) -> Any:
    if stream:
        result = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        assert result.text() == expected_text()
        assert result.receipt.complete
        return result
    answer = sdk.confidential_chat.create(messages=messages(), model=MODEL)
    assert answer.choices[0].message.content == expected_text()
    return answer


def _distinct_units(proxy: Any) -> None:
    bodies = confidential_bodies(proxy)
    for name in ("ciphertext", "client_dh_public_key", "salt", "nonce"):
        values = [b[name] for b in bodies]
        assert len(set(values)) == len(values), f"a retry re-sent an old {name}"


# -- statuses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [429, 503])
def test_failing_n_times_with_retry_after_then_success(node: LocalNode, status: int, stream: bool) -> None:
    node.faults.fail_next(2, status=status, retry_after=0.01, route=CHAT_PATH)
    with proxied(node) as (proxy, sdk):
        result = _ok(sdk, stream=stream)
        assert result.receipt.attempts == 3
        assert [e.path for e in proxy.requests].count(LOCK_PATH) == 3
        _distinct_units(proxy)
        assert_no_checked_out(sdk)


def test_failing_lock_is_retried(node: LocalNode) -> None:
    node.faults.fail_next(2, status=503, retry_after=0.01, route=LOCK_PATH)
    with proxied(node) as (_, sdk):
        assert _ok(sdk).receipt.attempts == 3  # every pass through the retry loop is an attempt


def test_failing_more_than_the_budget_raises_one_typed_error(node: LocalNode) -> None:
    node.faults.fail_next(10, status=503, retry_after=0.01, route=CHAT_PATH)
    with proxied(node) as (proxy, sdk):
        with pytest.raises(errors.ServiceUnavailableError) as caught:
            sdk.confidential_chat.create(messages=messages(), model=MODEL)
        assert caught.value.status_code == 503
        assert len(confidential_bodies(proxy)) == 4  # FAST_RETRIES: max_attempts=4
        _distinct_units(proxy)
        assert_no_checked_out(sdk)


def test_expired_lock_425_then_a_fresh_unit() -> None:
    with LocalNode(NodeConfig(lock_ttl=0.2)) as node:
        node.faults.delay_next(400, route=CHAT_PATH)  # the request arrives after its lock expired
        with proxied(node) as (proxy, sdk):
            assert _ok(sdk).receipt.attempts == 2
            statuses = [e.path for e in proxy.requests]
            assert statuses.count(LOCK_PATH) == 2
            _distinct_units(proxy)


@pytest.mark.parametrize("stream", [False, True])
def test_key_rotation_between_lock_and_request(node: LocalNode, stream: bool) -> None:
    def rotate(exchange: Exchange) -> None:
        node.rotate_key()

    with proxied(node, mutate_request=once(CHAT_PATH, rotate)) as (proxy, sdk):
        result = _ok(sdk, stream=stream)
        assert result.receipt.attempts == 2
        assert result.receipt.node_public_key == node.public_key
        _distinct_units(proxy)


def test_node_side_rotation_fault(node: LocalNode) -> None:
    node.faults.rotate_key_next(route=CHAT_PATH)
    with proxied(node) as (_, sdk):
        before = node.public_key
        result = _ok(sdk)
        assert result.receipt.node_public_key == node.public_key != before


# -- connections ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LOCK_PATH, CHAT_PATH])
@pytest.mark.parametrize("stream", [False, True])
def test_reset_before_headers_is_retried(node: LocalNode, path: str, stream: bool) -> None:
    with proxied(node, mutate_request=once(path, lambda e: RESET)) as (proxy, sdk):
        _ok(sdk, stream=stream)
        _distinct_units(proxy)
        assert_no_checked_out(sdk)


def test_reset_every_time_raises_one_connection_error(node: LocalNode) -> None:
    with proxied(node, mutate_request=lambda e: RESET if e.path == CHAT_PATH else None) as (proxy, sdk):
        with pytest.raises(errors.APIConnectionError):
            sdk.confidential_chat.create(messages=messages(), model=MODEL)
        assert len(confidential_bodies(proxy)) == 4
        assert_no_checked_out(sdk)


def _half_then_reset(exchange: Exchange, reply: Reply) -> Reply:
    assert isinstance(reply.body, bytes)
    body = reply.body
    return Reply(reply.status, [body[: len(body) // 2], RESET], reply.headers, content_length=len(body))


def _short_body(exchange: Exchange, reply: Reply) -> Reply:
    assert isinstance(reply.body, bytes)
    return Reply(reply.status, reply.body[:-10], reply.headers, content_length=len(reply.body))


@pytest.mark.parametrize(
    "fault", [_half_then_reset, _short_body], ids=["reset-mid-body", "body-never-completes"]
)
def test_broken_body_is_retried(node: LocalNode, fault: Callable[..., Reply]) -> None:
    # timeout_ms bounds a whole unit (lock + send + read): generous, so the retried unit fits on a busy
    # machine.
    with proxied(node, mutate_response=once(CHAT_PATH, fault), sdk_timeout_ms=2000) as (_, sdk):
        assert _ok(sdk).receipt.attempts == 2
        assert_no_checked_out(sdk)


def test_reset_before_the_first_chunk_is_retried(node: LocalNode) -> None:
    with proxied(node, mutate_event=once(CHAT_PATH, lambda e, i, d: RESET)) as (_, sdk):
        assert _ok(sdk, stream=True).receipt.attempts == 2
        assert_no_checked_out(sdk)


@pytest.mark.parametrize("source", ["proxy", "node"])
def test_reset_mid_stream_raises_and_is_not_complete(node: LocalNode, source: str) -> None:
    hooks: dict[str, Any] = {}
    if source == "proxy":
        hooks["mutate_event"] = lambda e, i, d: RESET if e.path == CHAT_PATH and i == 4 else None
    else:
        node.faults.drop_after(4, route=CHAT_PATH)
    with proxied(node, **hooks) as (proxy, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        items = []
        with pytest.raises(errors.APIConnectionError):
            for item in stream:
                items.append(item)
        assert 1 <= len(items) < 16
        assert not stream.receipt.complete and stream.usage is None
        assert len(confidential_bodies(proxy)) == 1, "a stream that reached the caller is never retried"
        assert_no_checked_out(sdk)


def test_server_that_stops_sending_hits_the_idle_timeout(node: LocalNode) -> None:
    stall = lambda e, i, d: [d, Stall(60)] if e.path == CHAT_PATH and i == 3 else None  # noqa: E731
    with proxied(node, mutate_event=stall, sdk_stream_idle_timeout_ms=300) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        with pytest.raises(errors.APITimeoutError):
            stream.text()
        assert not stream.receipt.complete
        assert_no_checked_out(sdk)


def test_keep_alives_without_events_hit_the_idle_timeout(node: LocalNode) -> None:
    def comments(exchange: Exchange, index: int, data: str) -> Any:
        if exchange.path != CHAT_PATH or index != 2:
            return None
        return [data, *[p for _ in range(200) for p in (b": keep-alive\n\n", Stall(0.02))]]

    with proxied(node, mutate_event=comments, sdk_stream_idle_timeout_ms=300) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        with pytest.raises(errors.APITimeoutError):
            stream.text()


def test_non_streamed_answer_that_never_comes_times_out(node: LocalNode) -> None:
    def stall(exchange: Exchange, reply: Reply) -> Reply | None:
        if exchange.path != CHAT_PATH:
            return None
        return Reply(200, [Stall(60)], reply.headers, content_length=10)

    with proxied(node, mutate_response=stall, sdk_timeout_ms=300, sdk_retry_config=NO_RETRIES) as (_, sdk):
        with pytest.raises(errors.APITimeoutError):
            sdk.confidential_chat.create(messages=messages(), model=MODEL)
        assert_no_checked_out(sdk)


def test_slow_drip_still_yields_the_right_answer(node: LocalNode) -> None:
    def drip_event(exchange: Exchange, index: int, data: str) -> Any:
        if exchange.path != CHAT_PATH:
            return None
        return drip(b"data: " + data.encode() + b"\n\n", 0.0005, size=64)

    def drip_body(exchange: Exchange, reply: Reply) -> Reply | None:
        if exchange.path != CHAT_PATH or not isinstance(reply.body, bytes):
            return None
        return Reply(reply.status, drip(reply.body, 0.001, size=16), reply.headers)

    with proxied(node, mutate_event=drip_event, mutate_response=drip_body) as (_, sdk):
        _ok(sdk)
        _ok(sdk, stream=True)
        assert_no_checked_out(sdk)


def test_oversized_event_is_refused(node: LocalNode) -> None:
    huge = "x" * (16 * 1024 * 1024 + 10)
    inject = lambda e, i, d: [d, huge] if e.path == CHAT_PATH and i == 2 else None  # noqa: E731
    with proxied(node, mutate_event=inject) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        with pytest.raises(errors.ResponseValidationError, match="max_event_bytes"):
            stream.text()
        assert_no_checked_out(sdk)


# -- malformed answers from the server --------------------------------------------------------------------


def _lock_with(key: Any) -> Callable[..., Reply | None]:
    def hook(exchange: Exchange, reply: Reply) -> Reply | None:
        if exchange.path != LOCK_PATH:
            return None
        return Reply.of_json({**reply.json(), "public_key": key})

    return hook


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        (
            lambda e, r: Reply(200, b'{"public_key": "', r.headers) if e.path == LOCK_PATH else None,
            errors.ResponseValidationError,
        ),
        (_lock_with("not base64!"), errors.ConfidentialError),
        (_lock_with("AAAA"), errors.ConfidentialError),
        (_lock_with(17), errors.ResponseValidationError),
        (
            lambda e, r: Reply(200, b"{}", r.headers) if e.path == LOCK_PATH else None,
            errors.ResponseValidationError,
        ),
    ],
    ids=["lock-not-json", "lock-key-not-base64", "lock-key-short", "lock-key-not-a-string", "lock-empty"],
)
def test_malformed_lock_answer(node: LocalNode, hook: Callable[..., Any], error: type[Exception]) -> None:
    with proxied(node, mutate_response=hook) as (proxy, sdk):
        with pytest.raises(error):
            sdk.confidential_chat.create(messages=messages(), model=MODEL)
        assert confidential_bodies(proxy) == [], "no prompt leaves for a malformed lock"
        assert_no_checked_out(sdk)


@pytest.mark.parametrize(
    "data",
    ['{"ciphertext": "@@@@", "nonce": "AAAAAAAAAAAAAAAA"}', '{"ciphertext": 5}', "{", '"just a string"'],
    ids=["bad-base64", "wrong-type", "truncated-json", "not-an-object"],
)
def test_malformed_stream_event(node: LocalNode, data: str) -> None:
    inject = lambda e, i, d: [d, data] if e.path == CHAT_PATH and i == 1 else None  # noqa: E731
    with proxied(node, mutate_event=inject) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        with pytest.raises(errors.IntegrityError):
            stream.text()
        assert not stream.receipt.complete
        assert_no_checked_out(sdk)


# -- leaks ------------------------------------------------------------------------------------------------


def test_no_connection_outlives_the_sdk(node: LocalNode) -> None:
    """After a mix of every fault, only idle pooled connections remain, and closing the SDK closes them."""
    faults: Iterator[Any] = iter(
        [
            lambda e, i, d: RESET if i == 3 else None,
            lambda e, i, d: [d, Stall(60)] if i == 2 else None,
            lambda e, i, d: "{" if i == 1 else None,
            lambda e, i, d: None,
        ]
        * 3
    )
    current: list[Any] = [None]

    def hook(exchange: Exchange, index: int, data: str) -> Any:
        return current[0](exchange, index, data) if exchange.path == CHAT_PATH else None

    outcomes: list[type[Exception] | None] = []
    with proxied(node, mutate_event=hook, sdk_stream_idle_timeout_ms=200) as (proxy, sdk):
        for fault in faults:
            current[0] = fault
            try:
                assert sdk.confidential_chat.create_stream(messages=messages(), model=MODEL).text()
                outcomes.append(None)
            except errors.AtomaError as exc:
                outcomes.append(type(exc))
            assert_no_checked_out(sdk)
        expected = [errors.APIConnectionError, errors.APITimeoutError, errors.IntegrityError, None]
        assert outcomes == expected * 3
        assert proxy.open_connections <= 2
        sdk.close()
        assert wait_until(lambda: proxy.open_connections == 0)
    assert json.dumps(proxy.errors, default=repr) == "[]"


# -- the async shell --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_faults_end_in_one_error_and_release_connections(node: LocalNode) -> None:
    faults = {
        "reset": lambda e, i, d: RESET if i == 3 else None,
        "stall": lambda e, i, d: [d, Stall(60)] if i == 2 else None,
        "not-json": lambda e, i, d: "{" if i == 1 else None,
    }
    expected = {
        "reset": errors.APIConnectionError,
        "stall": errors.APITimeoutError,
        "not-json": errors.IntegrityError,
    }
    current: list[str] = []

    def hook(exchange: Exchange, index: int, data: str) -> Any:
        return faults[current[-1]](exchange, index, data) if exchange.path == CHAT_PATH else None

    node.faults.fail_next(2, status=429, retry_after=0.01, route=CHAT_PATH)
    with proxied(node, mutate_event=hook, sdk_stream_idle_timeout_ms=200) as (proxy, sdk):
        current.append("none")
        faults["none"] = lambda e, i, d: None
        stream = await sdk.confidential_chat.create_stream_async(messages=messages(), model=MODEL)
        assert await stream.text() == expected_text() and stream.receipt.attempts == 3
        for name, error in expected.items():
            current.append(name)
            stream = await sdk.confidential_chat.create_stream_async(messages=messages(), model=MODEL)
            with pytest.raises(error):
                await stream.text()
            assert not stream.receipt.complete
            assert_no_checked_out(sdk, is_async=True)
        await sdk.aclose()
        assert wait_until(lambda: proxy.open_connections == 0)
