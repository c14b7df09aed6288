"""``atoma models`` and ``atoma health``: local in-process, a node process, JSON, errors."""

from __future__ import annotations

import json
import socket

import pytest

from .support import CHAT_MODEL, assert_one_error_line, node_process, run


def test_models_and_health_against_a_node_process() -> None:
    with node_process("--model", "org/a", "--model", "org/b") as node:
        env = {"ATOMASDK_BEARER_AUTH": node.api_key}
        models = run("models", "--server-url", node.url, env=env)
        as_json = run("models", "--server-url", node.url, "--json", env=env)
        health = run("health", "--server-url", node.url)
        denied = run("models", "--server-url", node.url, env={"ATOMASDK_BEARER_AUTH": "not-the-token"})
    assert models.returncode == 0 and models.stdout == "org/a\norg/b\n" and models.stderr == ""
    assert [m["id"] for m in json.loads(as_json.stdout)["data"]] == ["org/a", "org/b"]
    assert health.returncode == 0 and health.stdout == "ok\n"
    assert denied.returncode == 3 and "not-the-token" not in denied.stderr
    assert "401" in assert_one_error_line(denied.stderr)


@pytest.mark.parametrize("flag", ["--local", None])
def test_models_and_health_local(flag: str | None) -> None:
    models = run("models", *([flag] if flag else []))
    health = run("health", "--json", *([flag] if flag else []))
    assert models.returncode == 0, models.stderr
    assert CHAT_MODEL in models.stdout.splitlines()
    assert "using a local node" in models.stderr
    assert health.returncode == 0 and json.loads(health.stdout) == {"message": "ok"}


def test_health_of_a_stopped_node_is_a_connection_error() -> None:
    with node_process() as node:
        url = node.url
        assert node.finish()[0] == 0
    # Hold the stopped node's port (bound, not listening) so no parallel test's server can take it meanwhile.
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    except OSError:  # someone else took the port already: use a fresh port that nothing listens on
        holder.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{holder.getsockname()[1]}"
    with holder:
        result = run("health", "--server-url", url, "--timeout", "2")
    assert result.returncode == 4
    assert assert_one_error_line(result.stderr).startswith(f"atoma: error: cannot reach {url}: ")


def test_version_and_help() -> None:
    from atoma_sdk import __version__

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"atoma-sdk {__version__}"
    for command in ("node", "chat", "models", "health"):
        shown = run(command, "--help")
        assert shown.returncode == 0 and f"usage: atoma {command}" in shown.stdout
    unknown = run("frobnicate")
    assert unknown.returncode == 2
    assert "invalid choice" in assert_one_error_line(unknown.stderr)
