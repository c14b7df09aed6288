"""Warnings name the caller's file and line (never the SDK's) and say how to act on them in Python."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator

import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy
from atoma_sdk._runtime.warn import cli_message, stacklevel, warn
from atoma_sdk.confidential import attest
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode

from .conftest import CHAT_MODEL, HELLO


@pytest.fixture
def caught() -> Iterator[list[warnings.WarningMessage]]:
    attest._PROCESS.reset()  # the attestation warning is issued once per process
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        yield records
    attest._PROCESS.reset()


def _here() -> int:
    """The line of the caller's next statement."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno + 1


def _only(records: list[warnings.WarningMessage], text: str) -> warnings.WarningMessage:
    matching = [
        r for r in records if issubclass(r.category, ConfidentialityWarning) and text in str(r.message)
    ]
    assert len(matching) == 1, [str(r.message) for r in records]
    return matching[0]


def test_attestation_warning_points_at_the_call(
    node: LocalNode, caught: list[warnings.WarningMessage]
) -> None:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as sdk:
        line = _here()
        sdk.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)
    record = _only(caught, "not attested")
    assert (record.filename, record.lineno) == (__file__, line)
    text = str(record.message)
    assert "VerificationPolicy(attestation_verifier=...)" in text and "attestation='off'" in text
    assert "--attestation" not in text


def test_nonce_reuse_warning_points_at_the_loop_that_reads_the_stream(
    node: LocalNode, caught: list[warnings.WarningMessage]
) -> None:
    policy = VerificationPolicy(attestation="off")
    sdk = AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=policy)
    with sdk, sdk.confidential_chat.create_stream(messages=HELLO, model=CHAT_MODEL, max_tokens=4) as stream:
        line = _here()
        for _ in stream:
            pass
    record = _only(caught, "nonce")
    assert (record.filename, record.lineno) == (__file__, line)
    assert "VerificationPolicy(nonce_reuse='buffer')" in str(record.message)
    assert cli_message(record.message).endswith("--nonce-reuse raise to refuse it)")


@pytest.mark.anyio
async def test_async_warnings_point_at_the_awaiting_line(
    node: LocalNode, caught: list[warnings.WarningMessage]
) -> None:
    async with AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as sdk:
        line = _here()
        await sdk.confidential_chat.create_async(messages=HELLO, model=CHAT_MODEL)
        stream = await sdk.confidential_chat.create_stream_async(
            messages=HELLO, model=CHAT_MODEL, max_tokens=4
        )
        async with stream:
            loop_line = _here()
            async for _ in stream:
                pass
    assert (_only(caught, "not attested").filename, _only(caught, "not attested").lineno) == (__file__, line)
    assert _only(caught, "nonce").lineno == loop_line and _only(caught, "nonce").filename == __file__


def test_warnings_through_confidential_openai_point_at_the_openai_call(
    node: LocalNode, caught: list[warnings.WarningMessage]
) -> None:
    from atoma_sdk.openai import ConfidentialOpenAI

    with ConfidentialOpenAI(api_key=node.api_key, base_url=node.url + "/v1") as client:
        line = _here()
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    record = _only(caught, "not attested")
    assert (record.filename, record.lineno) == (__file__, line)


def test_a_warning_filter_silences_them_by_category(node: LocalNode) -> None:
    attest._PROCESS.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConfidentialityWarning)
        with AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as sdk:
            sdk.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)
    attest._PROCESS.reset()


def test_the_helper_counts_frames_outside_the_sdk_only() -> None:
    assert stacklevel() == 1  # called from here: this test is the caller
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        line = _here()
        warn("w", UserWarning, python="py advice", cli="cli advice")
    (record,) = records
    assert (record.filename, record.lineno) == (__file__, line)
    assert str(record.message) == "w (py advice)" and cli_message(record.message) == "w (cli advice)"
    assert cli_message(UserWarning("plain")) == "plain"
