"""Slowloris against the local node (issue 15): ``python -m benchmarks.node_attack [guarded|plain]``.

Starts the node in a child process with 256 open files, keeps 300 connections stalled mid-headers
(reopening the ones the node closes) for ``--seconds``, and prints, as JSON: /health latencies during the
attack (or ``null`` when a request timed out after 5 s), how many connections the attacker had to open,
and how many bytes the node logged. ``plain`` is uvicorn as the node ran it before the guard
(``timeout_keep_alive=65``, no header-read timeout, no connection cap); ``hypercorn`` is Hypercorn with
``read_timeout=1`` (install it yourself: it is not a dependency).
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

_LIMIT = """
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))"""
_GUARDED = _LIMIT + """
from atoma_sdk.local import NodeConfig, serve
serve(NodeConfig(api_key="k"), on_ready=lambda url, state: print(url, flush=True))
"""
_PLAIN = _LIMIT + """
import socket, uvicorn
from atoma_sdk.local import NodeConfig
from atoma_sdk.local.app import create_app
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print("http://127.0.0.1:%d" % sock.getsockname()[1], flush=True)
config = uvicorn.Config(create_app(NodeConfig(api_key="k")), log_level="warning", access_log=False,
                        backlog=2048, timeout_keep_alive=65)
uvicorn.Server(config).run(sockets=[sock])
"""
_HYPERCORN = _LIMIT + """
import asyncio, socket
from hypercorn.asyncio import serve
from hypercorn.config import Config
from atoma_sdk.local import NodeConfig
from atoma_sdk.local.app import create_app
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print("http://127.0.0.1:%d" % sock.getsockname()[1], flush=True)
config = Config()
config.bind = ["fd://%d" % sock.fileno()]
config.read_timeout, config.keep_alive_timeout, config.backlog = 1, 65, 2048
asyncio.run(serve(create_app(NodeConfig(api_key="k")), config))
"""
_SERVERS = {"guarded": _GUARDED, "plain": _PLAIN, "hypercorn": _HYPERCORN}


def _stall(address: tuple[str, int]) -> socket.socket | None:
    try:
        sock = socket.create_connection(address, timeout=2)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Stall: ")
    except OSError:
        return None
    sock.setblocking(False)
    return sock


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(64) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack(mode: str, seconds: float, count: int = 300) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "node.log"
        with log.open("w") as err:
            child = subprocess.Popen(
                [sys.executable, "-c", _SERVERS[mode]],
                stdout=subprocess.PIPE, stderr=err, text=True,
            )
        try:
            assert child.stdout is not None
            url = child.stdout.readline().strip()
            host, port = url.removeprefix("http://").rsplit(":", 1)
            address = (host, int(port))
            httpx.get(url + "/health", timeout=10)
            socks = [s for s in (_stall(address) for _ in range(count)) if s is not None]
            opened, latencies = len(socks), []
            end = time.monotonic() + seconds
            next_probe = time.monotonic() + 0.5
            while time.monotonic() < end:
                for sock in select.select(socks, [], [], 0.05)[0]:
                    if _closed(sock):
                        sock.close()
                        socks.remove(sock)
                while len(socks) < count and (sock := _stall(address)) is not None:
                    socks.append(sock)
                    opened += 1
                if time.monotonic() >= next_probe:
                    start = time.monotonic()
                    try:
                        httpx.get(url + "/health", timeout=5).raise_for_status()
                        latencies.append(round(time.monotonic() - start, 3))
                    except httpx.HTTPError:
                        latencies.append(None)
                    next_probe = time.monotonic() + 1.0
            for sock in socks:
                sock.close()
            return {"mode": mode, "health_s": latencies, "opened": opened, "log_bytes": log.stat().st_size}
        finally:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=list(_SERVERS), nargs="?", default="guarded")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(attack(args.mode, args.seconds)))


if __name__ == "__main__":
    main()
