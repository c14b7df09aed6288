"""Fixtures for the openai integration: one local node per module (faults cleared after each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atoma_sdk.local import LocalNode, NodeConfig


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    # Unique chunk nonces: the nonce-reuse warning is the confidential layer's business, not these tests'.
    with LocalNode(NodeConfig(unique_chunk_nonces=True)) as running:
        yield running


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "node" in request.fixturenames:
        request.getfixturevalue("node").faults.clear()


@pytest.fixture
def base_url(node: LocalNode) -> str:
    return node.url + "/v1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
