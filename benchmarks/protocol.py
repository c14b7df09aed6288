"""Worker processes: one JSON command per stdin line, one JSON answer per stdout line.

Standard library only: the official client's worker imports this from its own virtual environment.
Workers measure their own CPU time (``time.process_time``), so the node's work is never counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

Handler = Callable[[Mapping[str, Any]], Mapping[str, Any]]

__all__ = ["Handler", "Worker", "WorkerError", "measure_calls", "measure_stream", "rss_bytes", "serve"]


class WorkerError(RuntimeError):
    """A worker failed a command or died."""


def serve(handlers: Mapping[str, Handler]) -> None:
    """Answer commands until stdin closes. Anything the handlers print goes to stderr."""
    out: TextIO = sys.stdout
    sys.stdout = sys.stderr
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            answer: Mapping[str, Any] = {"ok": True, **handlers[command["op"]](command)}
        except Exception as exc:
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()


class Worker:
    """A worker subprocess: ``call(op, **args)`` sends one command and waits for its answer."""

    def __init__(
        self, name: str, argv: list[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise WorkerError(f"worker {self.name} exited with code {self._proc.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self._proc.stdin.flush()
        answer = self._read()
        if not answer.pop("ok", False):
            sys.stderr.write(answer.get("trace", ""))
            raise WorkerError(f"worker {self.name} failed {op}: {answer.get('error')}")
        return answer

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def measure_calls(call: Callable[[], object], n: int, warmup: int = 0) -> dict[str, float]:
    """Run ``call`` ``warmup`` times unmeasured, then ``n`` times; CPU and wall seconds per call."""
    for _ in range(warmup):
        call()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        call()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    return {"cpu": (cpu1 - cpu0) / n, "wall": (wall1 - wall0) / n, "n": n}


def measure_stream(
    open_stream: Callable[[], Iterable[object]], streams: int, warmup: int = 0
) -> dict[str, float]:
    """CPU seconds per streamed event, from the first event of each stream to its end.

    Opening the stream (lock, encryption, first event) is left out, so the figure is the cost of one more
    event. ``events`` counts the events measured.
    """
    for _ in range(warmup):
        for _item in open_stream():
            pass
    cpu = 0.0
    events = 0
    for _ in range(streams):
        items = iter(open_stream())
        next(items)
        start = time.process_time()
        for _item in items:
            events += 1
        cpu += time.process_time() - start
    if events == 0:
        raise WorkerError("the streams carried no events after their first")
    return {"cpu": cpu / events, "events": events}


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
