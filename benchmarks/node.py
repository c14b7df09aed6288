"""The local confidential node in its own process, so that its CPU time is never counted as the client's.

``python -m benchmarks.node`` prints one JSON line ``{"url", "api_key", "model"}`` when it is ready and
serves until terminated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import TracebackType
from typing import Any

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"


class NodeProcess:
    """Start ``python -m benchmarks.node`` with ``python``; ``url`` / ``api_key`` once started."""

    def __init__(self, python: str, cwd: str) -> None:
        self._proc = subprocess.Popen(
            [python, "-m", "benchmarks.node"], cwd=cwd, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the local node exited with code {self._proc.wait()}")
        info: dict[str, Any] = json.loads(line)
        self.url: str = info["url"]
        self.api_key: str = info["api_key"]
        self.model: str = info["model"]

    def cpu_seconds(self) -> float:
        """CPU time the node process has used so far (Linux /proc; 0.0 elsewhere)."""
        try:
            with open(f"/proc/{self._proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    from atoma_sdk.local import NodeConfig, serve

    config = NodeConfig()

    def ready(url: str, state: object) -> None:
        print(json.dumps({"url": url, "api_key": config.api_key, "model": CHAT_MODEL}), flush=True)
        sys.stdout = sys.stderr

    serve(config, on_ready=ready)


if __name__ == "__main__":
    main()
