"""Driving ``python -m atoma_sdk`` as a child process, as a user's shell would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
TIMEOUT = 60


def _child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ATOMASDK_BEARER_AUTH", "ATOMA_DEBUG")}
    env["PYTHONUNBUFFERED"] = "0"
    env.update(extra or {})
    return env


def _interruptible() -> None:
    """Undo an inherited SIG_IGN for SIGINT (background shells), so Python installs its Ctrl-C handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(*args: str, env: Mapping[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "atoma_sdk", *args],
        env=_child_env(env),
        text=True,
        preexec_fn=_interruptible,
        **popen,
    )


def run(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    child = spawn(*args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = child.communicate(stdin, timeout=TIMEOUT)
    finally:
        stop(child)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.kill()
        child.wait()


@dataclass
class NodeProcess:
    """An ``atoma node --json`` child and the details it printed."""

    child: subprocess.Popen[str]
    url: str
    api_key: str
    admin_token: str
    signer_address: str
    models: list[str]

    def finish(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Send ``signum``; returns (exit code, stderr)."""
        self.child.send_signal(signum)
        _, err = self.child.communicate(timeout=TIMEOUT)
        return self.child.returncode, err


@contextmanager
def node_process(*args: str) -> Iterator[NodeProcess]:
    child = spawn("node", "--json", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, "atoma node printed nothing"
        details = json.loads(line)
        yield NodeProcess(
            child,
            details["url"],
            details["api_key"],
            details["admin_token"],
            details["signer_address"],
            details["models"],
        )
    finally:
        stop(child)


def expected_text(prompt: str, **params: Any) -> str:
    """What the built-in model answers, computed with the SDK against an in-process node."""
    from atoma_sdk import AtomaSDK, VerificationPolicy
    from atoma_sdk.local import LocalNode

    policy = VerificationPolicy(nonce_reuse="ignore")
    with LocalNode() as node, AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as sdk:
        result = sdk.confidential_chat.create(
            messages=[{"role": "user", "content": prompt}], model=CHAT_MODEL, verification=policy, **params
        )
    content = result.choices[0].message.content
    assert isinstance(content, str)
    return content


def assert_one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("atoma: error: "), stderr
    return lines[0]
