"""One local node per module and an SDK (sync and async use the same client) talking to it over loopback."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from atoma_sdk import AtomaSDK
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL

MODEL = CHAT_MODEL


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture
def sdk(node: LocalNode) -> Iterator[AtomaSDK]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nonce reuse / chunk-count notes of the node's streams
        with AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as client:
            yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
