"""Fixtures for tests/aio: one local node per module; the two async backends under test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atoma_sdk.local import LocalNode, NodeConfig


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode(NodeConfig(unique_chunk_nonces=True)) as running:
        yield running


@pytest.fixture(params=["default", "aiohttp"])
def backend(request: pytest.FixtureRequest) -> str:
    """``default``: the SDK's own httpx client (linear pool); ``aiohttp``: a ``DefaultAioHttpClient``."""
    return str(request.param)
