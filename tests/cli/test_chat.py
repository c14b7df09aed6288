"""``atoma chat``: a local node in-process or a separate ``atoma node``; answer, receipt, errors."""

from __future__ import annotations

import json
import re
import socket

import pytest

from .support import CHAT_MODEL, assert_one_error_line, expected_text, node_process, run

PROMPT = "What does a confidential node prove?"
RECEIPT_ROWS = ("node:", "signer:", "response hash: verified", "signature:     verified", "attempts:")


def _receipt(stderr: str) -> str:
    assert "receipt:" in stderr, stderr
    return stderr.split("receipt:", 1)[1]


def _signer(receipt: str) -> str:
    match = re.search(r"signer:\s+(0x[0-9a-f]{64}) \(ed25519", receipt)
    assert match, receipt
    return match.group(1)


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_local_chat_prints_the_answer_and_the_receipt(stream: bool) -> None:
    result = run("chat", "--local", "--max-tokens", "12", *(["--stream"] if stream else []), PROMPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_text(PROMPT, max_tokens=12) + "\n"
    assert "atoma: using a local node at http://127.0.0.1:" in result.stderr
    receipt = _receipt(result.stderr)
    for row in RECEIPT_ROWS:
        assert row in receipt
    assert "attestation:   verified" in receipt  # enforced against the in-process node's synthetic evidence
    assert "Traceback" not in result.stderr
    if stream:
        # The nonce-reuse warning: one readable line, before the receipt, and in the receipt; no warning dump.
        warning_lines = [line for line in result.stderr.splitlines() if line.startswith("atoma: warning:")]
        assert len(warning_lines) == 1 and "nonce" in warning_lines[0]
        # The advice names the command's flag, not the Python setting.
        assert "--nonce-reuse buffer" in warning_lines[0] and "nonce_reuse=" not in warning_lines[0]
        assert "ConfidentialityWarning" not in result.stderr and "warnings.warn" not in result.stderr
        assert "nonce reuse:   YES" in receipt
        assert "chunks:        13 (10 with text, 12 completion tokens): within the signed count" in receipt


def test_chat_without_server_or_token_uses_a_local_node() -> None:
    result = run("chat", "Hello")
    assert result.returncode == 0, result.stderr
    assert "using a local node" in result.stderr
    assert "no --server-url and no ATOMASDK_BEARER_AUTH" in result.stderr
    assert result.stdout == expected_text("Hello") + "\n"


def test_chat_with_system_message_and_seed_reaches_the_model() -> None:
    plain = run("chat", "--local", "Hello")
    seeded = run("chat", "--local", "--seed", "7", "--system", "Be brief.", "Hello")
    assert plain.returncode == seeded.returncode == 0
    assert seeded.stdout.strip() and seeded.stdout != plain.stdout


def test_chat_reads_the_prompt_from_stdin() -> None:
    result = run("chat", "--local", "-", stdin="Hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_text("Hello") + "\n"


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_chat_json(stream: bool) -> None:
    result = run("chat", "--local", "--json", "--max-tokens", "5", *(["--stream"] if stream else []), PROMPT)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["content"] == expected_text(PROMPT, max_tokens=5)
    assert document["finish_reason"] == "length"
    assert document["usage"]["completion_tokens"] == 5
    receipt = document["receipt"]
    assert receipt["signature_verified"] and receipt["response_hash_verified"] and receipt["complete"]
    assert receipt["streamed"] is stream and receipt["nonce_reuse"] is stream
    assert len(document["warnings"]) == (1 if stream else 0)
    assert "receipt:" not in result.stderr


def test_chat_against_a_node_process_with_the_token_in_the_environment() -> None:
    with node_process() as node:
        env = {"ATOMASDK_BEARER_AUTH": node.api_key}
        result = run("chat", "--server-url", node.url, "--stream", PROMPT, env=env)
        quiet = run("chat", "--server-url", node.url, "--attestation", "off", PROMPT, env=env)
        pinned = run("chat", "--server-url", node.url, "--pin-signer", node.signer_address, PROMPT, env=env)
        attested = run("chat", "--server-url", node.url, "--local-attestation", PROMPT, env=env)
        other = "0x" + "ab" * 32
        refused = run("chat", "--server-url", node.url, "--pin-signer", other, PROMPT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_text(PROMPT) + "\n"
    assert "using a local node" not in result.stderr
    assert _signer(_receipt(result.stderr)) == node.signer_address
    # Any server but the in-process node gets the SDK's attestation warning (one line) unless turned off.
    warned = [line for line in result.stderr.splitlines() if line.startswith("atoma: warning:")]
    assert len(warned) == 2 and any("not attested" in line for line in warned)
    assert all("VerificationPolicy" not in line and "=" not in line for line in warned)
    assert any("--attestation off" in line for line in warned)
    assert quiet.returncode == 0 and "atoma: warning" not in quiet.stderr
    assert "attestation:   off" in quiet.stderr
    assert pinned.returncode == 0 and "(ed25519, pinned)" in pinned.stderr
    assert attested.returncode == 0 and "attestation:   verified" in attested.stderr, attested.stderr
    assert refused.returncode == 5 and refused.stdout == ""
    assert "not pinned" in assert_one_error_line(refused.stderr)


def test_wrong_token_is_one_line_without_the_token() -> None:
    token = "wrong-token-f00dfeed"
    with node_process() as node:
        result = run("chat", "--server-url", node.url, "--stream", "Hi", env={"ATOMASDK_BEARER_AUTH": token})
    assert result.returncode == 3
    assert result.stdout == ""
    line = assert_one_error_line(result.stderr)
    assert "401" in line and "ATOMASDK_BEARER_AUTH" in line
    assert token not in result.stderr and token not in result.stdout


def test_verification_failure_is_one_line_with_its_own_exit_code() -> None:
    result = run("chat", "--local", "--stream", "--nonce-reuse", "raise", "Hi")
    assert result.returncode == 5
    errors = [line for line in result.stderr.splitlines() if line.startswith("atoma: error:")]
    assert errors == ["atoma: error: verification failed: the node encrypted several chunks of this stream "
                      "under one nonce"]
    assert "Traceback" not in result.stderr


def test_nonce_reuse_buffer_avoids_the_warning() -> None:
    result = run("chat", "--local", "--stream", "--nonce-reuse", "buffer", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_text("Hi") + "\n"
    assert "atoma: warning" not in result.stderr
    assert "nonce reuse:   avoided" in result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_server_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = run("chat", "--server-url", url, "Hi", env={"ATOMASDK_BEARER_AUTH": "t0ken-t0ken"})
    assert result.returncode == 4
    assert assert_one_error_line(result.stderr).startswith(f"atoma: error: cannot reach {url}: ")
    assert "t0ken-t0ken" not in result.stderr


def test_unknown_model_is_an_api_error() -> None:
    result = run("chat", "--local", "--model", "no/such-model", "Hi")
    assert result.returncode == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("atoma: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr


def test_usage_errors_are_one_line() -> None:
    missing = run("chat")
    assert missing.returncode == 2
    assert "prompt" in assert_one_error_line(missing.stderr)
    both = run("chat", "--local", "--server-url", "http://127.0.0.1:1", "Hi")
    assert both.returncode == 2
    assert "not allowed with" in assert_one_error_line(both.stderr)
    empty = run("chat", "--local", "   ")
    assert empty.returncode == 2
    assert assert_one_error_line(empty.stderr) == "atoma: error: the prompt is empty"


def test_model_default_is_the_local_chat_model() -> None:
    from atoma_sdk.cli.commands import DEFAULT_CHAT_MODEL
    from atoma_sdk.local.config import CHAT_MODEL as LOCAL_CHAT_MODEL

    assert DEFAULT_CHAT_MODEL == LOCAL_CHAT_MODEL == CHAT_MODEL
