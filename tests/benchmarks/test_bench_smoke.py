"""The benchmark suite cannot rot: it runs end to end on tiny settings, and its parts are checked.

No timing is asserted anywhere: only that every case runs and reports, and that the floor client is a real
client (it decrypts, checks hashes and signatures) so that the comparison means something.
"""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.floor import FloorClient, verify_micro  # noqa: E402
from benchmarks.harness import CaseResult, Ratio, Series, Target, interleave  # noqa: E402
from benchmarks.protocol import Worker, WorkerError  # noqa: E402

from atoma_sdk.errors import AtomaError  # noqa: E402
from atoma_sdk.local import LocalNode, NodeConfig  # noqa: E402
from benchmarks import chart, report  # noqa: E402

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
MESSAGES = [{"role": "user", "content": "Hello"}]
OFFICIAL_PYTHON = ROOT / ".bench" / "venv" / "bin" / "python"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    raw = zlib.decompress(data[idat + 4 : idat + 4 + length])
    assert len(raw) == height * (1 + 3 * width)
    return width, height


@pytest.mark.slow
def test_suite_runs_every_case_on_tiny_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench"), "--smoke", "--no-official", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    for key in "1234567":
        assert f"\n## {key}. " in text
    assert "## Targets" in text and "## Machine" in text
    assert text.count("| met |") + text.count("| **not met** |") >= 9
    width, height = _png_size((tmp_path / "results.png").read_bytes())
    assert width > 100 and height > 50


def test_interleave_rotates_the_order() -> None:
    order: list[str] = []
    a, b, c = Series("a", "x"), Series("b", "x"), Series("c", "x")

    def side(name: str) -> float:
        order.append(name)
        return float(len(order))

    interleave(3, [(a, lambda: side("a")), (b, lambda: side("b")), (c, lambda: side("c"))])
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert a.values == [1.0, 6.0, 8.0]


def test_ratios_are_paired_and_targets_judged() -> None:
    num, den = Series("n", "ms", [2.0, 9.0, 3.0]), Series("d", "ms", [1.0, 3.0, 3.0])
    ratio = Ratio.of("n / d", num, den)
    assert ratio.values == [2.0, 3.0, 1.0]
    assert (ratio.median, ratio.low, ratio.high) == (2.0, 1.0, 3.0)
    assert Target("t", 2.0, 1.5).met is False
    assert Target("t", 2.0, 1.5, at_most=False).met is True
    case = CaseResult("9", "demo", [num, den], [ratio], [Target("n <= 1.5x d", ratio.median, 1.5)])
    text = report.render([case], report.machine_facts({}), "smoke", 1.0)
    assert "| 9 | n <= 1.5x d | 2.00x | <= 1.5x | **not met** |" in text
    assert "| **n / d** | **2.00x** | 1.00x - 3.00x |" in text
    assert _png_size(chart.render([case], "TEST")) > (0, 0)


def test_floor_client_is_a_real_confidential_client() -> None:
    with LocalNode(NodeConfig(unique_chunk_nonces=True)) as node:
        floor = FloorClient(node.url, node.api_key, verify="cryptography")
        try:
            answer = floor.create(MESSAGES, MODEL)
            assert answer["choices"][0]["message"]["role"] == "assistant"
            chunks = list(floor.stream(MESSAGES, MODEL, max_tokens=5))
            texts = [c["choices"][0]["delta"].get("content") for c in chunks]
            assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"  # vLLM's role-only first chunk
            assert 0 < sum(1 for t in texts if t) <= 5 == len(" ".join(t for t in texts if t).split())
        finally:
            floor.close()


def test_floor_rejects_a_tampered_answer() -> None:
    with LocalNode() as node:
        floor = FloorClient(node.url, node.api_key, verify="cryptography")
        try:
            aead, wire = floor._seal(MODEL, {"messages": MESSAGES, "model": MODEL, "stream": False})
            response = floor._http.post(
                "/v1/confidential/chat/completions",
                content=wire,
                headers={"Content-Type": "application/json"},
            ).json()
            floor._open(aead, response)
            forged = dict(response, response_hash=response["response_hash"][::-1])
            with pytest.raises(ValueError):
                floor._open(aead, forged)
            raw = base64.b64decode(response["signature"])
            bad = raw[:5] + bytes([raw[5] ^ 1]) + raw[6:]
            with pytest.raises(InvalidSignature):
                floor._open(aead, dict(response, signature=base64.b64encode(bad).decode()))
        finally:
            floor.close()


def test_verify_micro_measures_cryptography() -> None:
    assert verify_micro(3)["cryptography"] > 0


def test_worker_reports_failures() -> None:
    code = "from benchmarks.protocol import serve\nserve({'boom': lambda args: {}['missing']})\n"
    with Worker("boom", [sys.executable, "-c", code], cwd=str(ROOT)) as worker, pytest.raises(WorkerError):
        worker.call("boom")


@pytest.mark.skipif(
    not OFFICIAL_PYTHON.exists(), reason="the official client's venv (.bench/venv) is not built"
)
def test_official_worker_talks_to_the_local_node() -> None:
    try:
        node = LocalNode().start()
    except AtomaError:
        pytest.skip("cannot start a local node")
    try:
        with Worker(
            "official", [str(OFFICIAL_PYTHON), "-m", "benchmarks.worker_official"], cwd=str(ROOT)
        ) as w:
            args = {"url": node.url, "api_key": node.api_key, "model": MODEL, "messages": MESSAGES}
            assert w.call("create", n=1, **args)["cpu"] > 0
            # How many events carry 4 tokens depends on the node's vLLM-shaped chunking (role-only,
            # held-back and multi-token chunks): at least one follows the first.
            assert w.call("stream", n=1, max_tokens=4, **args)["events"] >= 1
    finally:
        node.stop()
