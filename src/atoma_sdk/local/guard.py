"""The node's connection guard: header-read timeout, idle timeout and a connection cap under uvicorn.

uvicorn has no header-read timeout (its keep-alive timer is reset by every byte) and accepts connections
until the process runs out of file descriptors. The guard adds, per server:

* a **header-read timeout**: once a request's first byte arrives, its headers must be complete within
  ``header_timeout`` seconds, or the connection is closed (silently: no response, no log line);
* an **idle timeout**: a connection that sends nothing (fresh, or kept alive after a response) is closed
  after ``idle_timeout`` seconds (uvicorn's keep-alive timer for the latter);
* a **connection cap** below the open-files limit, enforced at ``accept()``: at the cap the oldest
  *stalled* connections are shed first (mid-headers or never used), then the oldest idle keep-alive
  ones; connections serving a request are never shed (a newcomer is refused instead).

It is a subclass of uvicorn's h11 HTTP protocol (see :func:`protocol_class`) and a listening socket
whose ``accept()`` asks the guard first, so the event loop never hits ``EMFILE``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_LOG = logging.getLogger("atoma_sdk.local")

# Descriptors kept free for everything else the node opens (log files, upstream connections, threads).
_FD_RESERVE = 64
_MAX_DEFAULT_CAP = 1024
_SHED_BATCH = 16
_WARN_EVERY = 30.0

# Connection phases.
_FRESH, _HEADERS, _ACTIVE, _IDLE = "fresh", "headers", "active", "idle"


@dataclass(frozen=True)
class ServerLimits:
    """Connection-level limits of the node's HTTP server (see :mod:`atoma_sdk.local.guard`).

    ``max_connections=None`` derives the cap from the open-files limit (``RLIMIT_NOFILE`` minus the
    descriptors already open minus a reserve of 64, at most 1024).
    """

    header_timeout: float = 1.0
    idle_timeout: float = 65.0
    max_connections: int | None = None

    def connection_cap(self) -> int:
        if self.max_connections is not None:
            return max(1, self.max_connections)
        return default_connection_cap()


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 32


def default_connection_cap() -> int:
    """Connections the process can hold without running out of descriptors (8 to 1024)."""
    if sys.platform == "win32":  # pragma: no cover - no RLIMIT_NOFILE
        return 512
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(8, min(_MAX_DEFAULT_CAP, soft - _open_fds() - _FD_RESERVE))


class ConnectionGuard:
    """Counts one server's connections and decides which to shed; all calls run on the server's loop."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.cap = limits.connection_cap()
        self.open = 0  # accepted descriptors not yet released
        self.closing = 0  # shed connections whose descriptor is not released yet
        self._conns: dict[_GuardMixin, None] = {}  # insertion order = age
        self._warned = -_WARN_EVERY

    def accepted(self) -> None:
        self.open += 1

    def register(self, conn: _GuardMixin) -> None:
        self._conns[conn] = None

    def release(self, conn: _GuardMixin) -> None:
        if conn in self._conns:
            del self._conns[conn]
            self.open -= 1
            if conn.shed:
                self.closing -= 1

    def make_room(self) -> bool:
        """At the cap: shed a batch of stalled/idle connections; False when nothing may be shed."""
        if self.closing:
            return True
        victims = self._victims(max(1, min(_SHED_BATCH, self.cap // 16)))
        for conn in victims:
            conn.shed = True
            self.closing += 1
            conn.close()
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            what = "closing the oldest stalled ones" if victims else "all busy, refusing new ones"
            _LOG.warning("atoma node: connection cap (%d) reached; %s", self.cap, what)
        return bool(victims)

    def _victims(self, n: int) -> list[_GuardMixin]:
        order = {_HEADERS: 0, _FRESH: 0, _IDLE: 1}
        ranked = [c for c in self._conns if c.phase in order and not c.shed]
        ranked.sort(key=lambda c: order[c.phase])  # stable: oldest first within a rank
        return ranked[:n]


class _CoalescingTransport:
    """A connection's transport whose writes made in one event-loop step leave together.

    uvicorn writes a response's head and its body separately: two ``send`` calls and two TCP segments per
    response, so the client wakes up twice. Real nodes (Rust, hyper) send an assembled response in one.
    Same bytes in the same order; ``close`` and ``abort`` first hand over what is pending (as the plain
    transport, which sends each write at once, would already have done). Everything else is the transport's.
    """

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport: Any = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._flush()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _GuardMixin(asyncio.Protocol):
    """Timers and phase tracking on top of uvicorn's h11 HTTP protocol."""

    guard: ConnectionGuard
    phase = _FRESH
    shed = False
    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(_CoalescingTransport(transport))  # type: ignore[arg-type]
        self.guard.register(self)
        self._arm(self.guard.limits.idle_timeout)

    def data_received(self, data: bytes) -> None:
        if self.phase in (_FRESH, _IDLE):
            self.phase = _HEADERS
            self._arm(self.guard.limits.header_timeout)
        cycle = getattr(self, "cycle", None)
        super().data_received(data)
        if getattr(self, "cycle", None) is not cycle:  # a request's headers are complete
            self.phase = _ACTIVE
            self._disarm()

    def on_response_complete(self) -> None:
        cycle = getattr(self, "cycle", None)
        super().on_response_complete()  # type: ignore[misc]
        # A pipelined request may have started inside; otherwise uvicorn's keep-alive timer runs now.
        self.phase = _ACTIVE if getattr(self, "cycle", None) is not cycle else _IDLE

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.release(self)
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to unparsable HTTP, in the proxy's JSON error shape."""
        body = b'{"error":{"code":"REQUEST_ERROR","message":"Request error: invalid HTTP request"}}'
        head = (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        transport: asyncio.Transport = getattr(self, "transport")  # noqa: B009 - set by uvicorn
        if not transport.is_closing():
            transport.write(head + body)
            transport.close()

    def close(self) -> None:
        """Drop the connection now: abort, not close, which would wait for a client that reads nothing."""
        transport: asyncio.Transport | None = getattr(self, "transport", None)
        if transport is not None:
            transport.abort()

    def _arm(self, delay: float) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire, self.phase)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self, phase: str) -> None:
        self._timer = None
        if self.phase == phase and phase in (_FRESH, _HEADERS):
            self.close()


def protocol_class(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class with the guard mixed in (pass it as ``uvicorn.Config(http=...)``).

    Always h11, even where httptools is installed (uvicorn's ``auto`` would pick it): h11 refuses a request
    whose headers pass 16 KiB, while uvicorn's httptools protocol buffers header bytes without a bound until
    the header timeout (24 MB in one second from a Python client over loopback). The node also parses alike
    on every machine.
    """
    return type("GuardedHTTPProtocol", (_GuardMixin, H11Protocol), {"guard": guard})


class GuardedListener(socket.socket):
    """A listening socket whose ``accept()`` keeps the server under its connection cap."""

    guard: ConnectionGuard | None = None

    def accept(self) -> tuple[socket.socket, Any]:
        guard = self.guard
        if guard is not None and guard.open >= guard.cap:
            if not guard.make_room():
                conn, _ = super().accept()  # nothing may be shed: refuse the newcomer
                conn.close()
            raise BlockingIOError  # the event loop retries on its next turn, after the shed ones closed
        conn, addr = super().accept()
        if guard is not None:
            guard.accepted()
        return conn, addr


class _RateLimited(logging.Filter):
    """Per-connection complaints a client can trigger at will: one line, no traceback, per 10 s."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self._last = -10.0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = time.monotonic()
        if now - self._last < 10.0:
            return False
        self._last = now
        record.msg, record.args, record.exc_info, record.exc_text = self.prefix, None, None, None
        return True


_NOISY = {
    # asyncio, should the process run out of descriptors despite the cap (other code opening files).
    "asyncio": "socket.accept() out of system resource",
    # uvicorn, for every request h11 cannot parse (the client gets a 400).
    "uvicorn.error": "Invalid HTTP request received.",
}


def install_log_filters() -> None:
    """Rate-limit the log lines a bad client can cause (idempotent)."""
    for name, prefix in _NOISY.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RateLimited) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(_RateLimited(prefix))
