"""``serve()`` in a child process: prints via on_ready, answers, and returns cleanly on SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

SCRIPT = """
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
from atoma_sdk.local import NodeConfig, serve
serve(NodeConfig(api_key="k"), on_ready=lambda url, state: print(url, state.signer.address, flush=True))
print("returned", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_until_signal(signum: int) -> None:
    child = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url, address = child.stdout.readline().split()
        assert address.startswith("0x")
        models = httpx.get(url + "/v1/models", headers={"authorization": "Bearer k"}, timeout=10)
        assert models.status_code == 200
        child.send_signal(signum)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    assert out.strip() == "returned"
