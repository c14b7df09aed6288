"""Fixtures for the everyday-surface tests: one local node per module, an SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from atoma_sdk.local import LocalNode

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
HELLO: list[Any] = [{"role": "user", "content": "Hello!"}]


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:  # streams reuse one nonce, as the real node does
        yield running


@pytest.fixture
def node_env(node: LocalNode, monkeypatch: pytest.MonkeyPatch) -> LocalNode:
    """The node as the environment names it: ``ATOMASDK_SERVER_URL`` and ``ATOMASDK_BEARER_AUTH``."""
    monkeypatch.setenv("ATOMASDK_SERVER_URL", node.url)
    monkeypatch.setenv("ATOMASDK_BEARER_AUTH", node.api_key)
    return node


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
