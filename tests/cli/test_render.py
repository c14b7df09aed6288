"""The pieces behind the command's output, in-process: receipts, warnings, error lines and exit codes."""

from __future__ import annotations

import warnings

import httpx
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.warn import warn
from atoma_sdk.cli.exits import CLIError, describe_error
from atoma_sdk.cli.render import collect_warnings, format_receipt
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.confidential.receipt import Receipt


def _receipt(**changes: object) -> Receipt:
    receipt = Receipt(
        operation="confidential_chat_completions_create_stream",
        model="m",
        node_small_id=3,
        stack_small_id=42,
        signer_address="0x" + "1" * 64,
        signature_scheme="secp256k1",
        response_hash_verified=True,
        signature_verified=True,
        streamed=True,
        chunks=5,
        content_chunks=4,
        completion_tokens=4,
        chunk_count_within_bound=True,
        attempts=2,
    )
    for name, value in changes.items():
        setattr(receipt, name, value)
    return receipt


def test_receipt_lines() -> None:
    lines = format_receipt(_receipt())
    assert lines[0] == "receipt:"
    rows = dict(line.strip().split(":", 1) for line in lines[1:])
    assert {k: v.strip() for k, v in rows.items()} == {
        "node": "#3, stack #42",
        "signer": "0x" + "1" * 64 + " (secp256k1, not pinned)",
        "response hash": "verified",
        "signature": "verified",
        "attestation": "not checked (no attestation source configured; the node key is trusted as served)",
        "nonce reuse": "no",
        "chunks": "5 (4 with text, 4 completion tokens): within the signed count",
        "attempts": "2",
    }


def test_receipt_lines_show_what_was_not_verified() -> None:
    text = "\n".join(
        format_receipt(_receipt(nonce_reuse=True, signer_pinned=True, signature_verified=False))
    )
    assert "nonce reuse:   YES" in text
    assert "pinned)" in text and "not pinned" not in text
    assert "signature:     NOT verified" in text
    unstreamed = "\n".join(format_receipt(_receipt(streamed=False)))
    assert "nonce reuse" not in unstreamed and "chunks" not in unstreamed


def test_collected_warnings_are_distinct_single_lines_with_the_command_line_advice() -> None:
    with collect_warnings() as recorded:
        for _ in range(3):
            warn("one nonce\n  for all", ConfidentialityWarning, python="nonce_reuse='buffer'",
                 cli="--nonce-reuse buffer")
        warnings.warn("another", ConfidentialityWarning, stacklevel=1)
        assert recorded.messages() == ["one nonce for all (--nonce-reuse buffer)", "another"]


def _response(status: int) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": "X", "message": "no"}})


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.error_for_status(401, b'{"error":{"code":"AUTH_ERROR","message":"m"}}'), 3),
        (errors.error_for_status(503, b""), 3),
        (errors.APIConnectionError("connection failed (ConnectError)"), 4),
        (errors.APITimeoutError("request timed out (ReadTimeout)"), 4),
        (errors.SignatureError("bad signature"), 5),
        (errors.StreamTruncatedError("cut"), 5),
        (errors.RequestValidationError("messages: missing"), 2),
        (errors.AtomaError("other"), 1),
        (CLIError("mine", 7), 7),
        (RuntimeError("a bug"), 70),
    ],
)
def test_exit_codes(exc: BaseException, code: int) -> None:
    assert describe_error(exc)[0] == code


def test_error_lines_are_single_lines_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMASDK_BEARER_AUTH", "sekrit-token")
    _, line = describe_error(errors.AtomaError("first\nsecond sekrit-token"))
    assert line == "first second <redacted>"
    _, bug = describe_error(KeyError("sekrit-token"))
    assert "sekrit-token" not in bug and "KeyError" in bug
    _, verification = describe_error(errors.IntegrityError("hash mismatch"))
    assert verification == "verification failed: hash mismatch"


def test_receipt_lines_flag_an_exceeded_chunk_count_and_skip_buffered_counts() -> None:
    text = "\n".join(format_receipt(_receipt(content_chunks=6, chunk_count_within_bound=False)))
    assert "6 with text, 4 completion tokens): MORE than the signed count" in text
    buffered = "\n".join(format_receipt(_receipt(stream_mode="buffer", chunk_count_within_bound=None)))
    assert "within" not in buffered and "MORE" not in buffered and "avoided" in buffered
