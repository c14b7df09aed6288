"""The node against bad clients: a child process with 256 open files, attacked over loopback.

Stalled connections, big bodies, malformed input and disconnects: each attack gets a 4xx in the proxy's
error shape (or a silent close), the node's log stays quiet (no traceback, no secrets), and an SDK client
keeps working during and after it.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy
from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.local.config import CHAT_MODEL
from atoma_sdk.utils import RetryConfig

pytestmark = [
    pytest.mark.xdist_group("node-hardening"),
    pytest.mark.skipif(sys.platform != "linux", reason="open-files limits and /proc are Linux's"),
]

OPEN_FILES = 256
API_KEY = "hardening-api-key-0123456789"
ADMIN_TOKEN = "hardening-admin-token-0123456789"
SECRET_PROMPT = "the secret plaintext prompt 4711"
CHILD = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({OPEN_FILES}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from atoma_sdk.local import NodeConfig, serve
def ready(url, state):
    print(url, resource.getrlimit(resource.RLIMIT_NOFILE)[0], flush=True)
serve(NodeConfig(api_key=sys.argv[1], admin_token=sys.argv[2]), on_ready=ready)
"""
HEADERS = {"authorization": f"Bearer {API_KEY}"}


class Child:
    """The node in a subprocess: its URL, pid and the log it writes (stderr)."""

    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.address = (host, int(port))
        self._mark = 0

    def mark(self) -> None:
        self._mark = self.log.stat().st_size

    def new_log(self) -> str:
        with self.log.open("rb") as f:
            f.seek(self._mark)
            return f.read().decode(errors="replace")

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    log = tmp_path_factory.mktemp("hardening") / "node.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, API_KEY, ADMIN_TOKEN],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        url, open_files = process.stdout.readline().split()
        assert url.startswith("http://"), log.read_text()
        assert int(open_files) == OPEN_FILES
        yield Child(process, url, log)
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def node(child: Child) -> Iterator[Child]:
    """The shared child; each test checks its own part of the log for tracebacks and secrets."""
    child.mark()
    yield child
    assert child.process.poll() is None, "the node died"
    assert_quiet(child.new_log())


def assert_quiet(log: str, max_lines: int = 3) -> None:
    assert "Traceback" not in log, log[-3000:]
    assert "Too many open files" not in log, log[-3000:]
    for secret in (API_KEY, ADMIN_TOKEN, SECRET_PROMPT):
        assert secret not in log
    assert len(log.splitlines()) <= max_lines, log[-3000:]


def sdk_chat(url: str) -> float:
    """One SDK confidential chat against the node; returns its duration (s)."""
    start = time.monotonic()
    with AtomaSDK(
        bearer_auth=API_KEY,
        server_url=url,
        retry_config=RetryConfig("none"),
        verification=VerificationPolicy(nonce_reuse="ignore"),
        timeout_ms=10_000,
    ) as sdk:
        result = sdk.confidential_chat.create(
            messages=[{"role": "user", "content": SECRET_PROMPT}], model=CHAT_MODEL
        )
    assert result.choices[0].message.content
    return time.monotonic() - start


def health(url: str) -> float:
    start = time.monotonic()
    response = httpx.get(url + "/health", timeout=10)
    assert response.status_code == 200
    return time.monotonic() - start


def error_shape(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str)
    return dict(body["error"])


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class Stallers:
    """Keeps ``count`` connections stalled mid-headers, reopening those the node closes."""

    def __init__(self, address: tuple[str, int], count: int) -> None:
        self.address, self.count = address, count
        self.socks: list[socket.socket] = []
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=5)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: attacker\r\nX-Stall: ")
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select(self.socks, [], [], 0.05)
            for sock in readable:
                if closed_by_peer(sock):
                    sock.close()
                    self.socks.remove(sock)
            while len(self.socks) < self.count and not self._stop.is_set():
                try:
                    self.socks.append(self._open())
                except OSError:
                    break

    def __enter__(self) -> Stallers:
        while len(self.socks) < self.count:
            self.socks.append(self._open())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.socks:
            sock.close()


def test_stalled_connections_do_not_wedge_the_node(node: Child) -> None:
    sdk_chat(node.url)  # warm: the first call in a process pays for imports
    with Stallers(node.address, 300) as attack:
        time.sleep(0.5)  # the 300 are open (the node holds what its cap allows) and kept refilled
        health_s = health(node.url)
        chat_s = sdk_chat(node.url)
        time.sleep(2.0)
        opened = attack.opened
    print(f"300 stalled connections: /health {health_s:.3f} s, SDK chat {chat_s:.3f} s, {opened} opened")
    assert health_s < 2.0 and chat_s < 2.0, (health_s, chat_s)
    assert opened > 300  # the node closed stalled connections (timeout or shedding) and they were reopened
    sdk_chat(node.url)


def test_header_read_timeout_closes_a_stalled_connection(node: Child) -> None:
    with socket.create_connection(node.address, timeout=10) as sock:
        sock.sendall(b"POST /v1/nodes/lock HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        assert sock.recv(1024) == b""  # closed without an answer
        assert time.monotonic() - start < 5.0


def _raw_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    fields = dict(line.split(b":", 1) for line in head.lower().split(b"\r\n")[1:])
    length = int(fields[b"content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return status, json.loads(body)


def _send_until_closed(sock: socket.socket, chunk: bytes, limit: int) -> int:
    """Send ``chunk`` again and again until ``limit`` bytes or the node closes the connection; bytes sent."""
    sent = 0
    try:
        while sent < limit:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the node closed the connection
    return sent


def test_an_endless_header_is_refused_at_16_kib(node: Child) -> None:
    # The node always parses with h11 (uvicorn's httptools protocol, which ``auto`` picks where httptools is
    # installed, buffers header bytes without a bound until the header timeout).
    with socket.create_connection(node.address, timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = _send_until_closed(sock, b"a" * 65536, 64 * 1024 * 1024)
    print(f"endless header: closed after {sent >> 10} KiB sent")
    assert sent < 8 * 1024 * 1024  # h11 stops at 16 KiB; the rest sat in socket buffers
    sdk_chat(node.url)


def test_a_declared_200_mb_body_is_refused_before_it_is_read(node: Child) -> None:
    before = node.peak_rss_kib()
    with socket.create_connection(node.address, timeout=10) as sock:
        sock.sendall(
            b"POST /v1/nodes/lock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_KEY.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 209715200\r\n\r\n" + b"[" * 65536
        )
        status, body = _raw_response(sock)
        assert status == 413 and body["error"]["code"] == "REQUEST_ERROR"
        sent = _send_until_closed(sock, b" " * 1048576, 200 * 1024 * 1024)
    assert sent < 200 * 1024 * 1024
    print(f"declared 200 MB body: 413, {sent >> 20} MiB sent, peak RSS +{node.peak_rss_kib() - before} KiB")
    assert node.peak_rss_kib() - before < 64 * 1024
    sdk_chat(node.url)


def _send_quietly(sock: socket.socket, chunks: list[bytes]) -> None:
    try:
        for chunk in chunks:
            sock.sendall(chunk)
    except OSError:
        pass  # the node closed the connection


def test_a_streamed_200_mb_body_stops_at_the_cap(node: Child) -> None:
    before = node.peak_rss_kib()
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    with socket.create_connection(node.address, timeout=10) as sock:
        sock.sendall(
            b"POST /v1/nodes/lock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_KEY.encode()
            + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sender = threading.Thread(target=_send_quietly, args=(sock, [chunk] * 200), daemon=True)
        sender.start()
        status, body = _raw_response(sock)
        sender.join(timeout=30)
    assert status == 413 and body["error"]["code"] == "REQUEST_ERROR"
    print(f"chunked 200 MB body: 413, peak RSS +{node.peak_rss_kib() - before} KiB")
    assert node.peak_rss_kib() - before < 64 * 1024
    sdk_chat(node.url)


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
JSON = {"content-type": "application/json"}

MALFORMED = [
    pytest.param("POST", "/v1/nodes/lock", JSON, DEEP, 400, id="deep-json-lock"),
    pytest.param("POST", "/v1/confidential/chat/completions", JSON, DEEP, 400, id="deep-json-confidential"),
    pytest.param("POST", "/v1/chat/completions", JSON, DEEP_OBJECT, 400, id="deep-object-plaintext"),
    pytest.param("POST", "/v1/nodes/lock", JSON, b'{"model":"\xff\xfe"}', 400, id="invalid-utf8"),
    pytest.param("POST", "/v1/confidential/chat/completions", JSON, b"\xc3(", 400, id="invalid-utf8-outer"),
    pytest.param("GET", "/v1/get_node_attestation/" + "9" * 5000, {}, b"", 400, id="5000-digit-id"),
    pytest.param("GET", "/v1/get_node_attestation/99999999999999999999", {}, b"", 400, id="20-digit-id"),
    pytest.param("GET", "/v1/get_node_attestation/abc", {}, b"", 404, id="non-numeric-id"),
    pytest.param("GET", "/v1/get_node_attestation/-1", {}, b"", 404, id="negative-id"),
    pytest.param("POST", "/v1/nodes/lock", {"content-type": "text/plain"}, b'{"model":"m"}', 415, id="text"),
    pytest.param(
        "POST", "/v1/chat/completions", {"content-type": "multipart/form-data; boundary=x"}, b"--x--", 415,
        id="multipart",
    ),
    pytest.param("POST", "/v1/nodes/lock", JSON, b'{"model":' + b"9" * 10_000 + b"}", 400, id="huge-number"),
    pytest.param("POST", "/v1/nodes/lock", JSON, b"[1,2]", 400, id="array"),
    pytest.param("GET", "/v1/nodes/lock", {}, b"", 405, id="wrong-method"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), MALFORMED)
def test_malformed_input_is_a_4xx_in_the_proxy_shape(
    node: Child, method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    with httpx.Client(base_url=node.url, headers=HEADERS, timeout=20) as http:
        response = http.request(method, path, headers=headers, content=body)
    assert response.status_code == status, response.text[:300]
    error_shape(response)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x00\xff\xfe garbage\r\n\r\n", id="garbage-request-line"),
        pytest.param(b"POST /v1/nodes/lock HTTP/1.1\r\nHost: x\r\nContent-Length: z\r\n\r\n", id="length"),
        pytest.param(b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", id="bad-header"),
    ],
)
def test_unparsable_http_is_a_400_in_the_proxy_shape(node: Child, raw: bytes) -> None:
    with socket.create_connection(node.address, timeout=10) as sock:
        sock.sendall(raw)
        status, body = _raw_response(sock)
    assert status == 400 and body["error"]["code"] == "REQUEST_ERROR"


def test_a_flood_of_unparsable_requests_logs_one_line(node: Child) -> None:
    for _ in range(50):
        with socket.create_connection(node.address, timeout=10) as sock:
            sock.sendall(b"\x00garbage\r\n\r\n")
            assert _raw_response(sock)[0] == 400
    assert_quiet(node.new_log(), max_lines=1)


def test_disconnects_are_quiet(node: Child) -> None:
    lock = HEADERS | {"content-type": "application/json", "content-length": "1000"}
    head = "".join(f"{k}: {v}\r\n" for k, v in lock.items())
    for _ in range(20):  # mid-body
        with socket.create_connection(node.address, timeout=10) as sock:
            sock.sendall(f"POST /v1/nodes/lock HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + b'{"model":')
    for _ in range(20):  # mid-stream
        body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x " * 500}], "stream": True}
        with httpx.Client(base_url=node.url, headers=HEADERS, timeout=20) as http, http.stream(
            "POST", "/v1/chat/completions", json=body
        ) as response:
            assert response.status_code == 200
            next(response.iter_bytes())
    for _ in range(20):  # mid-headers
        with socket.create_connection(node.address, timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHo")
    sdk_chat(node.url)
    time.sleep(0.5)
    assert_quiet(node.new_log(), max_lines=0)


def test_the_sdk_keeps_working_during_a_flood_of_bad_requests(node: Child) -> None:
    stop = threading.Event()

    def flood() -> None:
        with httpx.Client(base_url=node.url, headers=HEADERS, timeout=20) as http:
            while not stop.is_set():
                http.post("/v1/nodes/lock", content=DEEP, headers=JSON)
                http.get("/v1/get_node_attestation/" + "7" * 4000)

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):
            assert sdk_chat(node.url) < 10.0
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)


# -- the limits are settings ---------------------------------------------------------------------


def test_connection_cap_sheds_the_oldest_stalled_connection_first() -> None:
    with LocalNode(NodeConfig(max_connections=4, header_timeout=30, idle_timeout=30)) as node:
        host, port = node.url.removeprefix("http://").rsplit(":", 1)
        address = (host, int(port))
        socks = [socket.create_connection(address, timeout=10) for _ in range(4)]
        for sock in socks:
            sock.sendall(b"GET /health HTTP/1.1\r\nHo")
            time.sleep(0.05)
        try:
            for sock in socks:
                sock.setblocking(False)
            assert health(node.url) < 5.0  # a 5th connection is admitted: the oldest stalled one goes
            deadline = time.monotonic() + 5
            while not closed_by_peer(socks[0]) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert time.monotonic() < deadline
            assert not closed_by_peer(socks[3])
        finally:
            for sock in socks:
                sock.close()


def test_idle_timeout_and_body_cap_are_settings() -> None:
    config = NodeConfig(idle_timeout=1, max_body_size=1000)
    with LocalNode(config) as node:
        host, port = node.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            start = time.monotonic()
            assert sock.recv(1024) == b""  # a silent connection is closed
            assert time.monotonic() - start < 5.0
        headers = {"authorization": f"Bearer {node.api_key}"}
        response = httpx.post(node.url + "/v1/nodes/lock", headers=headers, json={"model": "x" * 1000})
        assert response.status_code == 413
        assert error_shape(response)["code"] == "REQUEST_ERROR"
        response = httpx.post(node.url + "/v1/nodes/lock", headers=headers, json={"model": CHAT_MODEL})
        assert response.status_code == 200


def test_admin_routes_take_curl_form_content_type(node: Child) -> None:
    form = {"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/x-www-form-urlencoded"}
    response = httpx.post(node.url + "/_admin/faults", headers=form, content=b'{"kind": "rtt", "ms": 0}')
    assert response.status_code == 200, response.text


def test_a_stalled_body_is_a_408() -> None:
    with LocalNode(NodeConfig(body_timeout=0.5)) as node:
        host, port = node.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                f"POST /v1/nodes/lock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {node.api_key}\r\n"
                "Content-Length: 100\r\n\r\n{".encode()
            )
            status, body = _raw_response(sock)
        assert status == 408 and body["error"]["code"] == "REQUEST_ERROR"
