"""Fixtures: a local node per test (real uvicorn on a loopback port) and a client that plays the SDK."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from atoma_sdk.local import LocalNode, NodeConfig

from .support import Client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def node() -> Iterator[LocalNode]:
    with LocalNode(NodeConfig()) as running:
        yield running


def make_client(node: LocalNode) -> Iterator[Client]:
    headers = {"authorization": f"Bearer {node.api_key}"}
    with httpx.Client(base_url=node.url, headers=headers, timeout=20) as http:
        yield Client(node, http)


@pytest.fixture
def client(node: LocalNode) -> Iterator[Client]:
    yield from make_client(node)
