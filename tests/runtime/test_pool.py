"""The linear pool assignment (``_runtime/pool.py``) decides exactly as httpcore's stock method does."""

from __future__ import annotations

from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atoma_sdk import AtomaSDK
from atoma_sdk._runtime import pool as linear

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
    def __init__(self, origin: Any, queued: bool) -> None:
        self.request = httpcore.Request(
            "GET", httpcore.URL(scheme=origin.scheme, host=origin.host, port=origin.port, target="/")
        )
        self.connection: Any = None if queued else object()

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: Any) -> None:
        self.connection = connection


def _pool(cls: type, spec: dict[str, Any]) -> Any:
    pool = cls(max_connections=spec["max"], max_keepalive_connections=spec["keep"], http2=spec["http2"])
    pool._connections = [
        FakeConnection(f"c{i}", ORIGINS[o], state, expired)
        for i, (o, state, expired) in enumerate(spec["conns"])
    ]
    pool._requests = [FakeRequest(ORIGINS[o], queued) for o, queued in spec["reqs"]]
    made = iter(range(1000))
    pool.create_connection = lambda origin: FakeConnection(
        f"n{next(made)}", origin, "new", False, spec["http2"]
    )
    return pool


def _outcome(pool: Any, closing: list[Any]) -> tuple[Any, ...]:
    return (
        [repr(c) for c in closing],
        [repr(c) for c in pool._connections],
        [
            repr(r.connection) if isinstance(r.connection, FakeConnection) else r.is_queued()
            for r in pool._requests
        ],
    )


_specs = st.fixed_dictionaries(
    {
        "max": st.integers(1, 8),
        "keep": st.integers(0, 8),
        "http2": st.booleans(),
        "conns": st.lists(
            st.tuples(st.integers(0, 2), st.sampled_from(["idle", "active", "closed"]), st.booleans()),
            max_size=10,
        ),
        "reqs": st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=12),
    }
)


@given(_specs)
def test_linear_assignment_matches_httpcore_on_random_pool_states(spec: dict[str, Any]) -> None:
    for stock_cls, linear_cls in (
        (httpcore.AsyncConnectionPool, linear.AsyncLinearPool),
        (httpcore.ConnectionPool, linear.LinearPool),
    ):
        stock, fixed = _pool(stock_cls, spec), _pool(linear_cls, spec)
        assert _outcome(fixed, fixed._assign_requests_to_connections()) == _outcome(
            stock, stock._assign_requests_to_connections()
        )


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
