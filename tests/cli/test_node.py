"""``atoma node``: prints its details, serves the API, and ends cleanly on Ctrl-C and SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess

import httpx
import pytest

from .support import CHAT_MODEL, assert_one_error_line, node_process, spawn, stop


def _field(text: str, name: str) -> str:
    match = re.search(rf"^{name}:\s+(\S+)$", text, re.MULTILINE)
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_node_prints_details_serves_and_stops_cleanly(signum: int) -> None:
    child = spawn("node", "--port", "0", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout is not None
        banner = "".join(child.stdout.readline() for _ in range(6))
        url, token = _field(banner, "url"), _field(banner, "api key")
        address, admin = _field(banner, "signer address"), _field(banner, "admin token")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert re.fullmatch(r"0x[0-9a-f]{64}", address)
        assert len(token) >= 16 and token != admin
        models = httpx.get(f"{url}/v1/models", headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert models.status_code == 200
        assert CHAT_MODEL in [m["id"] for m in models.json()["data"]]
        assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 401
        faults = httpx.get(f"{url}/_admin/faults", headers={"authorization": f"Bearer {admin}"}, timeout=10)
        assert faults.status_code == 200
        child.send_signal(signum)
        _, err = child.communicate(timeout=30)
    finally:
        stop(child)
    assert child.returncode == 0, err
    assert "Traceback" not in err
    assert "node stopped" in err


def test_node_tokens_are_random_unless_given() -> None:
    with node_process() as first, node_process() as second:
        assert first.api_key != second.api_key
        assert first.admin_token != second.admin_token
        assert first.signer_address != second.signer_address
    with node_process("--api-key", "my-token", "--admin-token", "my-admin") as node:
        assert (node.api_key, node.admin_token) == ("my-token", "my-admin")
        health = httpx.get(f"{node.url}/v1/models", headers={"authorization": "Bearer my-token"}, timeout=10)
        assert health.status_code == 200


def test_node_serves_the_models_it_is_given() -> None:
    with node_process("--model", "org/one", "--model", "org/two") as node:
        assert node.models == ["org/one", "org/two"]
        listing = httpx.get(
            f"{node.url}/v1/models", headers={"authorization": f"Bearer {node.api_key}"}, timeout=10
        )
        assert [m["id"] for m in listing.json()["data"]] == ["org/one", "org/two"]
        code, err = node.finish(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


def test_node_on_a_busy_port_is_one_error_line() -> None:
    with node_process() as node:
        port = node.url.rsplit(":", 1)[1]
        busy = spawn("node", "--port", port, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = busy.communicate(timeout=30)
        finally:
            stop(busy)
    assert busy.returncode == 1
    assert out == ""
    assert assert_one_error_line(err).startswith(f"atoma: error: cannot listen on 127.0.0.1:{port}")


def _completions_stream_events(url: str, token: str) -> list[str]:
    """One confidential completions stream, sealed by hand; returns the SSE blocks it got."""
    import json

    from atoma_sdk.confidential.envelope import ClientSession

    headers = {"authorization": f"Bearer {token}"}
    lock = httpx.post(f"{url}/v1/nodes/lock", json={"model": CHAT_MODEL}, headers=headers, timeout=10).json()
    session = ClientSession.create(lock["public_key"])
    inner = json.dumps({"model": CHAT_MODEL, "prompt": "Once", "stream": True}).encode()
    body = {
        **session.encrypt_request(inner),
        "model_name": CHAT_MODEL,
        "stack_small_id": lock["stack_small_id"],
        "stream": True,
    }
    response = httpx.post(f"{url}/v1/confidential/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 200
    return [block for block in response.text.split("\n\n") if block]


def test_node_drops_completions_stream_chunks_unless_told_not_to() -> None:
    with node_process() as node:
        assert not [e for e in _completions_stream_events(node.url, node.api_key) if e.startswith("data:")]
    with node_process("--native-completions-streams") as node:
        data = [e for e in _completions_stream_events(node.url, node.api_key) if e.startswith("data:")]
        assert len(data) > 2
