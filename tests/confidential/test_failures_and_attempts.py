"""What failures say, which are retried (protocol.md §12.3), and how attempts are counted and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL
from atoma_sdk.utils import BackoffStrategy, RetryConfig

MESSAGES = [{"role": "user", "content": "a private question"}]
LOCK = "/v1/nodes/lock"
CHAT = "/v1/confidential/chat/completions"
FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 10_000), max_attempts=4)
QUIET = VerificationPolicy(nonce_reuse="ignore", attestation="off")


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(node: LocalNode) -> Iterator[None]:
    node.faults.clear()
    yield
    node.faults.clear()


@pytest.fixture
def sdk(node: LocalNode) -> Iterator[AtomaSDK]:
    with AtomaSDK(
        bearer_auth=node.api_key, server_url=node.url, retry_config=FAST_RETRIES, verification=QUIET
    ) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sdk_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="atoma_sdk")
    return caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "atoma_sdk"]


def test_node_rejection_is_typed_and_not_retried(sdk: AtomaSDK, sdk_log: pytest.LogCaptureFixture) -> None:
    """The node refuses an out-of-range max_tokens (a node 400): the client sees 500 "Bad Request"."""
    with pytest.raises(errors.NodeRejectedError) as caught:
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, max_tokens=10**9)
    error = caught.value
    assert isinstance(error, errors.InternalServerError) and error.status_code == 500
    assert "node rejected the request" in str(error) and "not retried" in str(error)
    lines = _lines(sdk_log)
    assert sum(f"POST {LOCK} -> 200" in line for line in lines) == 1  # one lock: no retry
    assert not [line for line in lines if "retrying" in line]


@pytest.mark.anyio
async def test_node_rejection_async(sdk: AtomaSDK, sdk_log: pytest.LogCaptureFixture) -> None:
    with pytest.raises(errors.NodeRejectedError):
        await sdk.confidential_chat.create_async(messages=MESSAGES, model=CHAT_MODEL, max_tokens=10**9)
    assert sum(f"POST {LOCK} -> 200" in line for line in _lines(sdk_log)) == 1


def test_other_500s_are_still_retried(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.fail_next(1, status=500, retry_after=0, route=CHAT)
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert result.receipt is not None and result.receipt.attempts == 2


def test_no_node_for_the_model_names_it_and_is_retried(
    sdk: AtomaSDK, sdk_log: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(errors.ServiceUnavailableError) as caught:
        sdk.confidential_chat.create(messages=MESSAGES, model="acme/no-such-model")
    assert caught.value.status_code == 503
    assert "no node serves model 'acme/no-such-model' with confidential compute" in str(caught.value)
    assert sum(f"POST {LOCK} -> 503" in line for line in _lines(sdk_log)) == 4  # FAST_RETRIES: 4 attempts


@pytest.mark.anyio
async def test_no_node_for_the_model_async(sdk: AtomaSDK) -> None:
    with pytest.raises(errors.ServiceUnavailableError, match="acme/no-such-model"):
        await sdk.confidential_chat.create_async(messages=MESSAGES, model="acme/no-such-model", retries=None)


def test_lock_402_says_the_balance_is_short(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.fail_next(1, status=402, route=LOCK)
    with pytest.raises(errors.PaymentRequiredError, match="balance is too short") as caught:
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert caught.value.status_code == 402 and "8192 compute units" in str(caught.value)


@pytest.mark.parametrize("is_async", [False, True])
def test_two_lock_503s_then_success_is_three_attempts_logged_as_such(
    sdk: AtomaSDK, node: LocalNode, sdk_log: pytest.LogCaptureFixture, is_async: bool
) -> None:
    node.faults.fail_next(2, status=503, retry_after=0, route=LOCK)
    if is_async:
        import anyio

        async def call() -> object:
            return await sdk.confidential_chat.create_async(messages=MESSAGES, model=CHAT_MODEL)

        result = anyio.run(call)
    else:
        result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert result.receipt.attempts == 3  # type: ignore[attr-defined]
    lines = _lines(sdk_log)
    assert [line.split(" (attempt ")[1].split(",")[0] for line in lines if line.startswith("POST ")] == [
        "1", "2", "3", "3",
    ]
    retries = [line for line in lines if "retrying" in line]
    assert len(retries) == 2
    assert "retrying as attempt 2" in retries[0] and "retrying as attempt 3" in retries[1]
    assert all("after 503 (ServiceUnavailableError)" in line and " ms " in line for line in retries)
    assert not [line for line in lines if "Service unavailable" in line]  # never the server's words


def test_a_transport_failure_is_logged_by_class(sdk_log: pytest.LogCaptureFixture) -> None:
    with AtomaSDK(
        bearer_auth="t", server_url="http://127.0.0.1:9", retry_config=FAST_RETRIES, verification=QUIET
    ) as closed, pytest.raises(errors.APIConnectionError):
        closed.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    retries = [line for line in _lines(sdk_log) if "retrying" in line]
    assert len(retries) == 3 and all(line.endswith("after APIConnectionError") for line in retries)


def test_a_stream_retry_counts_attempts(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.fail_next(1, status=429, retry_after=0, route=CHAT)
    stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL)
    assert stream.text() and stream.receipt.attempts == 2
