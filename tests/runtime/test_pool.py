"""The linear pool assignment (``_runtime/pool.py``): httpcore's pool rules without its quadratic work and
multi-assignment churn; applied only where verified."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atoma_sdk import AtomaSDK
from atoma_sdk._runtime import pool as linear

from .conftest import CHAT, OK_BODY, PARAMS, SDK, reply

ORIGINS = [httpcore.URL(f"http://h{i}.invalid/").origin for i in range(3)]


class FakeConnection:
    """A connection with fixed state answers (what the assignment pass queries)."""

    def __init__(self, name: str, origin: Any, state: str, expired: bool, http2: bool = False) -> None:
        self.name, self.origin, self.state, self.expired, self.http2 = name, origin, state, expired, http2

    def is_closed(self) -> bool:
        return self.state == "closed"

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_available(self) -> bool:
        return self.state == "idle" or (self.http2 and self.state in ("active", "new"))

    def can_handle_request(self, origin: Any) -> bool:
        return bool(origin == self.origin)

    def __repr__(self) -> str:
        return self.name


class FakeRequest:
    def __init__(self, origin: Any, connection: Any) -> None:
        url = httpcore.URL(scheme=origin.scheme, host=origin.host, port=origin.port, target="/")
        self.request = httpcore.Request("GET", url)
        self.connection: Any = connection

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: Any) -> None:
        self.connection = connection


def _pool(cls: type, spec: dict[str, Any]) -> Any:
    pool = cls(max_connections=spec["max"], max_keepalive_connections=spec["keep"], http2=spec["http2"])
    pool._connections = [
        FakeConnection(f"c{i}", ORIGINS[o], state, expired, spec["http2"])
        for i, (o, state, expired) in enumerate(spec["conns"])
    ]
    live = [c for c in pool._connections if c.state != "closed"]
    # A request either waits (None) or holds a live connection: in flight, or reserved but not started.
    pool._requests = [
        FakeRequest(ORIGINS[o], live[pick % len(live)] if pick is not None and live else None)
        for o, pick in spec["reqs"]
    ]
    made = iter(range(1000))
    pool.create_connection = lambda origin: FakeConnection(
        f"n{next(made)}", origin, "new", False, spec["http2"]
    )
    if not spec["sweep"]:
        pool._atoma_next_sweep = float("inf")
    return pool


_specs = st.fixed_dictionaries(
    {
        "max": st.integers(1, 8),
        "keep": st.integers(0, 8),
        "http2": st.booleans(),
        "sweep": st.booleans(),
        "conns": st.lists(
            st.tuples(st.integers(0, 2), st.sampled_from(["idle", "active", "closed"]), st.booleans()),
            max_size=10,
        ),
        "reqs": st.lists(st.tuples(st.integers(0, 2), st.none() | st.integers(0, 20)), max_size=12),
    }
)


@given(_specs)
def test_assignment_invariants_on_random_pool_states(spec: dict[str, Any]) -> None:
    for cls in (linear.AsyncLinearPool, linear.LinearPool):
        pool = _pool(cls, spec)
        held_before = {id(r.connection) for r in pool._requests if r.connection is not None}
        waiting = [r for r in pool._requests if r.is_queued()]
        closing = pool._assign_requests_to_connections()
        kept = pool._connections
        closed_ids = {id(c) for c in closing}
        # Closed connections are dropped on a sweep, or before the pool makes room (they take none).
        live = [c for c in kept if not c.is_closed()]
        if spec["sweep"] or spec["keep"] < spec["max"]:
            assert live == kept
        assert not closed_ids & {id(c) for c in kept}
        # Never closes a connection a request holds or was given.
        assert not closed_ids & {id(r.connection) for r in pool._requests if r.connection is not None}
        # Never grows the pool past its size; never hands out an expired connection it had not handed out.
        assert len(kept) <= max(spec["max"], len(spec["conns"]))
        newly = [r.connection for r in pool._requests if r.connection is not None]
        assert all(id(c) in held_before or not (c.expired and c.state == "idle") for c in newly)
        # An HTTP/1.1 connection (idle or not yet connected) is given to at most one waiting request, and
        # never to one while another request holds it.
        given = [r.connection for r in waiting if r.connection is not None and not r.connection.http2]
        assert len({id(c) for c in given}) == len(given)
        assert not {id(c) for c in given} & held_before
        # A request still waits only when the pool is full and no free idle connection is left.
        if any(r.is_queued() for r in pool._requests):
            reserved = {id(c) for c in newly}
            free = [c for c in live if c.is_idle() and id(c) not in reserved]
            assert len(live) >= spec["max"] and not free


def test_a_connection_the_server_closed_is_not_reused(server: Any) -> None:
    """The server closes each keep-alive connection after answering (without saying so): every next call
    still succeeds, because a connection is probed right before it is handed out."""
    closed = threading.Event()

    def answer_then_close(h: Any) -> None:
        reply(200, OK_BODY)(h)
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)
        closed.set()

    server.push(*[answer_then_close] * 4)

    async def main() -> list[str]:
        async with SDK(bearer_auth="t", server_url=server.url, retry_config=None) as sdk:
            ids = []
            for _ in range(4):
                closed.clear()
                ids.append((await sdk._runtime.call_async(CHAT, PARAMS)).id)
                assert closed.wait(10)
            return ids

    assert asyncio.run(main()) == ["r1"] * 4


def test_version_pin() -> None:
    assert linear.supported("1.0.6") and linear.supported("1.0.9")
    assert not linear.supported("1.0.5") and not linear.supported("1.0.10") and not linear.supported("2.0.0")
    assert not linear.supported("1.0.dev1")


def test_sdk_clients_get_the_linear_pool_only_on_verified_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = AtomaSDK(bearer_auth="k", server_url="http://127.0.0.1:9")
    pools = sdk._runtime.clients
    expected = linear.supported()
    assert isinstance(pools.async_()._transport._pool, linear.AsyncLinearPool) is expected  # type: ignore[attr-defined]
    assert isinstance(pools.sync()._transport._pool, linear.LinearPool) is expected  # type: ignore[attr-defined]
    sdk.close()
    monkeypatch.setattr(httpcore, "__version__", "1.1.0")
    assert type(AtomaSDK(bearer_auth="k")._runtime.clients.sync()._transport._pool) is httpcore.ConnectionPool  # type: ignore[attr-defined]
    # A client the user passes keeps its own pool.
    mine = httpx.AsyncClient()
    assert not isinstance(
        AtomaSDK(async_client=mine)._runtime.clients.async_()._transport._pool, linear.AsyncLinearPool
    )  # type: ignore[attr-defined]
