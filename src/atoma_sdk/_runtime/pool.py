"""A linear-time connection assignment for the httpcore pools of SDK-created httpx clients.

httpcore 1.0.x's ``ConnectionPool._assign_requests_to_connections`` runs on every request start and every
response close and costs more than the request itself once 32-128 connections are busy:

- it is quadratic: for each connection it rebuilds a list of all connections, and for each queued request it
  rescans every connection;
- it hands one idle connection to *every* queued request (assigning does not change a connection's state),
  so all but one fail with ``ConnectionNotAvailable``, re-queue and trigger another pass (about 9 passes per
  request at 128 concurrent calls instead of 2);
- every pass probes every idle socket (``has_expired()`` polls it), through anyio's slow ``extra`` lookup.

Upstream: encode/httpcore#1035 (open: the quadratic scan and the multi-assignment), encode/httpx#3215,
encode/httpcore#924 (probe cost); httpx2 fixed it in pydantic/httpx2#974 and #1075.

:func:`assign_linear` makes the same kind of decisions in O(connections + requests): a connection handed to a
request that has not started on it yet is *reserved* (neither handed to another request nor closed); an
idle connection is probed right before it is handed out (so a connection the server closed is never
reused), and the other idle ones at most once per :data:`SWEEP_INTERVAL_S` (keep-alive expiry and server
closes are still noticed, within that interval). Keep-alive limits, pool size and the order in which
connections are reused or made room for are httpcore's.

It overrides private httpcore code, so :func:`speed_up` applies it only to the httpcore versions whose
method and connection interface it was checked against (:data:`VERIFIED`), and only to the exact stock pool
classes of transports the SDK creates; anything else (other versions, proxies, user clients) keeps the
stock pool.
"""

from __future__ import annotations

import time
from typing import Any

import httpcore
import httpx

__all__ = [
    "SWEEP_INTERVAL_S",
    "VERIFIED",
    "AsyncLinearPool",
    "LinearPool",
    "assign_linear",
    "speed_up",
    "supported",
]

#: httpcore releases whose ``_assign_requests_to_connections`` (identical in 1.0.6 through 1.0.9) and pool
#: internals (``_connections``, ``_requests``, ``_max_connections``, ``_max_keepalive_connections``,
#: ``create_connection``) :func:`assign_linear` was checked against.
VERIFIED = ((1, 0, 6), (1, 0, 9))
#: Idle connections not about to be reused are probed for expiry / server close at most this often.
SWEEP_INTERVAL_S = 1.0


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split(".")[:3])
    except ValueError:
        return None


def supported(version: str | None = None) -> bool:
    """Whether the installed (or given) httpcore version is one the override was verified against."""
    parsed = _version(version if version is not None else httpcore.__version__)
    low, high = VERIFIED
    return parsed is not None and low <= parsed <= high


def _clean(pool: Any, reserved: set[int], sweep: bool) -> list[Any]:
    """Drop closed connections; close expired ones (on a sweep) and surplus idle ones; keep reserved ones."""
    closing: list[Any] = []
    kept: list[Any] = []
    # httpcore compares the number of connections still in the pool (not the idle ones) with the keep-alive
    # limit; the SDK's pools keep every connection alive (limit = size), so this only matters for others.
    remaining = len(pool._connections)
    for connection in pool._connections:
        if connection.is_closed():
            remaining -= 1
        elif id(connection) in reserved:
            kept.append(connection)
        elif (sweep and connection.has_expired()) or (
            connection.is_idle() and remaining > pool._max_keepalive_connections
        ):
            remaining -= 1
            closing.append(connection)
        else:
            kept.append(connection)
    pool._connections[:] = kept
    return closing


def assign_linear(pool: Any) -> list[Any]:
    """Assign queued requests to connections in O(connections + requests); return the connections to close.

    Called with the pool's lock held, where httpcore calls ``_assign_requests_to_connections``. When every
    connection may stay alive (the SDK's limits), a pass with nothing waiting and no sweep due returns at
    once, and closed connections are dropped on a sweep or before the pool makes room (they are never
    handed out: they are neither idle nor available).
    """
    now = time.monotonic()
    sweep = now >= getattr(pool, "_atoma_next_sweep", 0.0)
    if sweep:
        pool._atoma_next_sweep = now + SWEEP_INTERVAL_S
    queued = [request for request in pool._requests if request.is_queued()]
    keep_all = pool._max_keepalive_connections >= pool._max_connections
    if not queued and not sweep and keep_all:
        return []
    reserved = {id(r.connection) for r in pool._requests if r.connection is not None}
    cleaned = sweep or not keep_all
    closing = _clean(pool, reserved, sweep) if cleaned else []
    if not queued:
        return closing
    connections: list[Any] = pool._connections
    free_idle = [c for c in connections if c.is_idle() and id(c) not in reserved]  # oldest first
    candidates = connections if pool._http2 else free_idle
    for pool_request in queued:
        origin = pool_request.request.url.origin
        connection = _reuse(candidates, connections, free_idle, reserved, origin, closing)
        if connection is None:
            if len(connections) >= pool._max_connections and not cleaned:
                closing += _clean(pool, reserved, sweep=False)  # closed ones take no room
                cleaned = True
                left = {id(c) for c in connections}
                free_idle[:] = [c for c in free_idle if id(c) in left]
            if len(connections) >= pool._max_connections:
                if not free_idle:
                    if pool._http2:
                        continue  # a later request may still find a multiplexing connection
                    break  # HTTP/1.1, full and nothing idle: every later request waits too
                oldest = free_idle.pop(0)
                connections.remove(oldest)
                closing.append(oldest)
            connection = pool.create_connection(origin)
            connections.append(connection)
        if connection.is_idle():
            reserved.add(id(connection))
            if connection in free_idle:
                free_idle.remove(connection)
        pool_request.assign_to_connection(connection)
    return closing


def _reuse(
    candidates: list[Any],
    connections: list[Any],
    free_idle: list[Any],
    reserved: set[int],
    origin: Any,
    closing: list[Any],
) -> Any:
    """The first of ``candidates`` that can take a request to ``origin`` now: an unreserved idle one that
    passes its expiry probe, or a busy one that multiplexes (HTTP/2; an HTTP/1.1 pool's candidates are its
    free idle connections). Expired ones found on the way are closed."""
    for connection in list(candidates):
        if not connection.can_handle_request(origin) or not connection.is_available():
            continue
        if not connection.is_idle():
            return connection  # available while busy: a multiplexing connection
        if id(connection) in reserved:
            continue
        if connection.has_expired():
            connections.remove(connection)
            free_idle.remove(connection)
            closing.append(connection)
            continue
        return connection
    return None


class AsyncLinearPool(httpcore.AsyncConnectionPool):
    """``httpcore.AsyncConnectionPool`` with :func:`assign_linear`."""

    def _assign_requests_to_connections(self) -> list[Any]:
        return assign_linear(self)


class LinearPool(httpcore.ConnectionPool):
    """``httpcore.ConnectionPool`` with :func:`assign_linear`."""

    def _assign_requests_to_connections(self) -> list[Any]:
        return assign_linear(self)


def speed_up(
    target: httpx.Client | httpx.AsyncClient | httpx.HTTPTransport | httpx.AsyncHTTPTransport,
) -> bool:
    """Give an SDK-created client's default transport (or an SDK-created transport) the linear pool;
    False (nothing changed) on other httpcore versions and pool classes."""
    if not supported():
        return False
    transport = getattr(target, "_transport", target)
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool:
        pool.__class__ = AsyncLinearPool
        return True
    if type(pool) is httpcore.ConnectionPool:
        pool.__class__ = LinearPool
        return True
    return False
