"""One local node per module (unique chunk nonces unless a test builds its own), faults cleared per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atoma_sdk.local import LocalNode, NodeConfig


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode(NodeConfig(unique_chunk_nonces=True)) as running:
        yield running


@pytest.fixture(scope="module")
def reusing_node() -> Iterator[LocalNode]:
    """A node that reuses one nonce per stream, as today's Atoma nodes do."""
    with LocalNode() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("node", "reusing_node"):
        if name in request.fixturenames:
            request.getfixturevalue(name).faults.clear()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
