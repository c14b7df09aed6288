"""Peak memory of a hostile answer, measured in a fresh subprocess (tests/hostile/memory_probe.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("memory_probe.py")
#: The issue's bound on the peak-memory growth a 1 MB -> 1 GiB gzip bomb may cause.
MAX_GROWTH_MB = 64


def probe(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(PROBE), mode], capture_output=True, text=True, timeout=110, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("mode", ["lock", "chat"])
def test_a_gzip_bomb_ends_in_a_typed_error_with_bounded_memory(mode: str) -> None:
    result = probe(mode)
    assert result["error"] == "ResponseTooLargeError"
    assert isinstance(result["growth_mb"], float) and result["growth_mb"] < MAX_GROWTH_MB


def test_a_100_mb_ciphertext_ends_in_a_typed_error() -> None:
    result = probe("ciphertext")
    assert result["error"] == "ResponseTooLargeError"
    assert isinstance(result["growth_mb"], float) and result["growth_mb"] < MAX_GROWTH_MB
