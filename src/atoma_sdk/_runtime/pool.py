"""A linear-time connection assignment for the httpcore pools of SDK-owned httpx clients.

httpcore 1.0.x's ``ConnectionPool._assign_requests_to_connections`` runs on every request start and every
response close, and does quadratic work: for each connection it rebuilds a list of all connections, and for
each queued request it rescans every connection. With 32-128 busy connections this costs more CPU than the
request itself (upstream: encode/httpcore#1035, encode/httpx#3215; httpx2 fixed it in pydantic/httpx2#974).

:func:`speed_up` swaps the pool of an SDK-created httpx transport to a subclass whose assignment makes the
same decisions in linear time (same connections closed, same connection given to each queued request, in
the same order: tests/runtime/test_pool.py compares the two on random pool states). It overrides private
httpcore code, so it applies only to the httpcore versions whose method it was checked against
(:data:`VERIFIED`); on any other version, or any other pool class (proxies, user transports), the stock pool
stays.
"""

from __future__ import annotations

from typing import Any

import httpcore
import httpx

__all__ = ["VERIFIED", "AsyncLinearPool", "LinearPool", "assign_linear", "speed_up", "supported"]

#: httpcore releases whose ``_assign_requests_to_connections`` is the one :func:`assign_linear` replicates
#: (1.0.6 through 1.0.9 carry the identical method).
VERIFIED = ((1, 0, 6), (1, 0, 9))


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


def assign_linear(pool: Any) -> list[Any]:
    """httpcore's ``_assign_requests_to_connections``, decision for decision, in O(connections + requests).

    Called with the pool's lock held (as the stock method is); returns the connections to close.
    """
    closing: list[Any] = []
    connections: list[Any] = pool._connections
    keep_alive = pool._max_keepalive_connections
    # Clean-up pass. Stock compares the number of connections *still in the list* (it removes as it goes)
    # with the keep-alive limit for every idle one; ``remaining`` is that number.
    remaining = len(connections)
    kept: list[Any] = []
    for connection in connections:
        if connection.is_closed():
            remaining -= 1
        elif connection.has_expired() or (connection.is_idle() and remaining > keep_alive):
            remaining -= 1
            closing.append(connection)
        else:
            kept.append(connection)
    connections[:] = kept

    queued = [request for request in pool._requests if request.is_queued()]
    if not queued:
        return closing
    # Assigning never changes a connection's state within a pass, so the first available connection for an
    # origin only changes when one is added or removed (then the cache is recomputed, as stock rescans);
    # idle connections only leave the list, oldest first.
    first_available: dict[Any, Any] = {}
    idle = [connection for connection in connections if connection.is_idle()]
    idle_at = 0
    for pool_request in queued:
        origin = pool_request.request.url.origin
        key = (origin.scheme, origin.host, origin.port)  # what Origin.__eq__ compares (it is unhashable)
        if key not in first_available:
            first_available[key] = next(
                (c for c in connections if c.can_handle_request(origin) and c.is_available()), None
            )
        connection = first_available[key]
        if connection is None:
            if len(connections) >= pool._max_connections:
                if idle_at == len(idle):
                    continue
                oldest = idle[idle_at]
                idle_at += 1
                connections.remove(oldest)
                closing.append(oldest)
            connection = pool.create_connection(origin)
            connections.append(connection)
            if connection.is_idle():
                idle.append(connection)
            first_available.clear()
        pool_request.assign_to_connection(connection)
    return closing


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
