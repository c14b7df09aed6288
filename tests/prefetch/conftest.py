"""Shared fixtures for tests/prefetch: one local node per module, a request recorder hook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import VerificationPolicy
from atoma_sdk.local import LocalNode

LOCK_PATH = "/v1/nodes/lock"
CHAT_PATH = "/v1/confidential/chat/completions"
QUIET = VerificationPolicy(attestation="off", nonce_reuse="ignore")


class Recorder:
    """A before-request hook that keeps every request body the SDK sends, by path (thread-safe enough:
    list.append is atomic)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
        self.bodies.append((request.url.path, json.loads(request.content or b"{}")))
        return request

    def sent(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.bodies if p == path]


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_faults(node: LocalNode) -> Iterator[None]:
    node.faults.clear()
    yield
    node.faults.clear()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
