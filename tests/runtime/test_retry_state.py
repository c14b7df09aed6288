"""RetryState decisions in isolation (fake clock, fixed jitter): no sockets needed for pure arithmetic."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.core import map_transport_error
from atoma_sdk._runtime.operation import RetryRule
from atoma_sdk._runtime.retrying import MAX_RETRY_AFTER_S, RetryState, parse_retry_after
from atoma_sdk.utils import BackoffStrategy, RetryConfig
from atoma_sdk.utils.retries import DEFAULT_RETRY_CONFIG


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(config: RetryConfig | None = DEFAULT_RETRY_CONFIG, rule: RetryRule = RetryRule.DEFAULT,
          clock: Clock | None = None, rng: float = 0.5) -> RetryState:
    return RetryState(config, rule, clock=clock or Clock(), wall_clock=lambda: 1_000_000.0, rng=lambda: rng)


def response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "-4"}) == 0.0
    date = email.utils.formatdate(1_000_010.0, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    assert state().delay_for_response(response(status)) is not None


@pytest.mark.parametrize("status", [400, 401, 402, 404, 422, 423, 425])
def test_non_retryable_statuses(status: int) -> None:
    assert state().delay_for_response(response(status)) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    config = RetryConfig("backoff", BackoffStrategy(100, 400, 2.0, 60_000), max_attempts=10)
    low = state(config, rng=0.0)
    high = state(config, rng=0.999999)
    lows = [low.delay_for_response(response(503)) for _ in range(5)]
    highs = [high.delay_for_response(response(503)) for _ in range(5)]
    assert lows == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert highs == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.4], rel=1e-5)


def test_default_budget_is_three_attempts() -> None:
    s = state()
    assert s.delay_for_response(response(503)) is not None
    assert s.delay_for_response(response(503)) is not None
    assert s.attempt == 3
    assert s.delay_for_response(response(503)) is None


def test_max_elapsed_time_bounds_retries() -> None:
    clock = Clock()
    s = state(RetryConfig("backoff", BackoffStrategy(100, 100, 1.0, 1_000)), clock=clock)
    assert s.delay_for_response(response(500)) is not None
    clock.now = 0.96
    assert s.delay_for_response(response(500)) is None  # 0.96 s + >= 0.05 s would pass 1 s


def test_retry_after_is_honoured_and_capped() -> None:
    long_budget = RetryConfig("backoff", BackoffStrategy(100, 100, 1.0, 600_000))
    assert state(long_budget).delay_for_response(response(429, {"retry-after": "7"})) == 7.0
    capped = state(long_budget).delay_for_response(response(429, {"retry-after": "3600"}))
    assert capped == MAX_RETRY_AFTER_S
    # Beyond the elapsed budget: give up instead of sleeping past it.
    assert state().delay_for_response(response(429, {"retry-after": "45"})) is None


def test_disabled_configs() -> None:
    assert state(None).delay_for_response(response(503)) is None
    assert state(RetryConfig("none", None)).delay_for_response(response(503)) is None
    assert state(RetryConfig("backoff", None, max_attempts=1)).delay_for_response(response(503)) is None


def test_exceptions_default_rule() -> None:
    request = httpx.Request("GET", "http://x")
    for exc in (httpx.ConnectError("x", request=request), httpx.ReadTimeout("x", request=request),
                httpx.RemoteProtocolError("x", request=request), httpx.ReadError("x", request=request)):
        assert state().delay_for_exception(exc) is not None, exc
    assert state().delay_for_exception(httpx.UnsupportedProtocol("x", request=request)) is None
    assert state().delay_for_exception(ValueError("x")) is None
    no_conn = RetryConfig("backoff", None, retry_connection_errors=False)
    assert state(no_conn).delay_for_exception(httpx.ConnectError("x", request=request)) is None


def test_exceptions_not_sent_only_rule() -> None:
    request = httpx.Request("POST", "http://x")
    rule = RetryRule.NOT_SENT_ONLY
    assert state(rule=rule).delay_for_exception(httpx.ConnectError("x", request=request)) is not None
    assert state(rule=rule).delay_for_exception(httpx.ConnectTimeout("x", request=request)) is not None
    assert state(rule=rule).delay_for_exception(httpx.ReadTimeout("x", request=request)) is None
    assert state(rule=rule).delay_for_exception(httpx.RemoteProtocolError("x", request=request)) is None
    assert state(rule=rule).delay_for_exception(httpx.ConnectError("x"), sent=True) is None
    assert state(rule=rule).delay_for_response(response(503)) is None


def test_typed_errors_are_understood() -> None:
    """The confidential layer hands typed errors back (it sends with retry=False)."""
    request = httpx.Request("POST", "http://x")
    mapped = map_transport_error(httpx.ConnectError("x", request=request))
    mapped.__cause__ = httpx.ConnectError("x", request=request)
    assert state(rule=RetryRule.NOT_SENT_ONLY).delay_for_exception(mapped) is not None
    api = errors.error_for_status(503, b"{}", headers={"retry-after": "2"})
    assert state().delay_for_exception(api) == 2.0
    assert state().delay_for_exception(errors.error_for_status(404, b"{}")) is None
