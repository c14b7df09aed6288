"""``python3 scripts/demo``, the README's first command, end to end (reusing the existing .venv)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_demo_streams_a_verified_answer() -> None:
    python3 = shutil.which("python3")
    if python3 is None:
        pytest.skip("no python3 on PATH")
    env = {k: v for k, v in os.environ.items() if k not in ("ATOMASDK_BEARER_AUTH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [python3, str(ROOT / "scripts" / "demo")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # generous: a changed pyproject.toml makes the demo reinstall .venv first
    )
    assert result.returncode == 0, result.stderr
    assert "> Why does confidential inference need verified receipts?" in result.stdout
    answer = result.stdout.split("receipts?\n", 1)[1].strip().splitlines()[0]
    assert len(answer.split()) == 24  # --max-tokens 24: one word per token from the built-in model
    assert "receipt:" in result.stderr
    assert "signature:     verified" in result.stderr and "response hash: verified" in result.stderr
    assert "nonce reuse:   YES" in result.stderr
    assert "(ed25519, pinned)" in result.stderr
    assert "attestation:   verified" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Next:" in result.stdout
