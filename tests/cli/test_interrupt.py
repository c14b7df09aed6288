"""Ctrl-C (and SIGTERM) during a streamed chat against a slow node: a clean exit, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from .support import TIMEOUT, NodeProcess, node_process, spawn, stop

CONFIDENTIAL_CHAT = "/v1/confidential/chat/completions"


def _stream(node: NodeProcess) -> subprocess.Popen[str]:
    return spawn(
        "chat", "--server-url", node.url, "--stream", "--max-tokens", "500", "Tell me everything",
        env={"ATOMASDK_BEARER_AUTH": node.api_key},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _interrupt(child: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    child.send_signal(signum)
    out, err = child.communicate(timeout=TIMEOUT)
    return out, err


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_interrupting_a_stream_mid_answer(signum: int, code: int) -> None:
    with node_process("--token-delay", "0.3") as node:
        child = _stream(node)
        try:
            assert child.stdout is not None
            first = os.read(child.stdout.fileno(), 64)  # returns as soon as the first token is flushed
            assert first.strip()
            out, err = _interrupt(child, signum)
        finally:
            stop(child)
        # The node outlives its client and still answers.
        headers = {"authorization": f"Bearer {node.api_key}"}
        assert httpx.get(f"{node.url}/v1/models", headers=headers, timeout=10).status_code == 200
        node_code, node_err = node.finish()
    assert child.returncode == code
    assert out.endswith("\n")  # the partial answer's line is ended
    assert "Traceback" not in err and "receipt:" not in err
    assert err.strip().splitlines()[-1] == "atoma: interrupted"
    assert node_code == 0 and "Traceback" not in node_err


def test_ctrl_c_while_the_node_delays_its_answer() -> None:
    with node_process() as node:
        admin = {"authorization": f"Bearer {node.admin_token}"}
        fault = {"kind": "delay", "ms": 60_000, "route": CONFIDENTIAL_CHAT}
        added = httpx.post(f"{node.url}/_admin/faults", json=fault, headers=admin, timeout=10)
        assert added.status_code < 300
        child = _stream(node)
        try:
            deadline = time.monotonic() + TIMEOUT
            # The rule is consumed when the request arrives: from then on the node sits on it.
            while httpx.get(f"{node.url}/_admin/faults", headers=admin, timeout=10).json()["pending"]:
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            out, err = _interrupt(child, signal.SIGINT)
        finally:
            stop(child)
        node_code, node_err = node.finish()
    assert child.returncode == 130
    assert out == ""
    assert "Traceback" not in err
    assert err.strip() == "atoma: interrupted"
    # The node still sits on the abandoned request when it is stopped: uvicorn cancels it after its grace
    # period (and logs that); the node itself must still exit cleanly.
    assert node_code == 0 and "node stopped" in node_err
