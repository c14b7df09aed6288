"""Fixtures for the hostile-server tests: a fresh hostile server per test, an SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy

from .server import HostileServer

#: Built at run time so that no source line of the tests contains it.
TOKEN = "tok-" + "".join(chr(ord("a") + (i * 7) % 26) for i in range(24))
QUIET = VerificationPolicy(attestation="off", nonce_reuse="ignore")
MESSAGES: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
def server() -> Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


def make_sdk(server: HostileServer, **kwargs: Any) -> AtomaSDK:
    kwargs.setdefault("retry_config", None)
    kwargs.setdefault("bearer_auth", TOKEN)
    return AtomaSDK(server_url=server.url, verification=QUIET, **kwargs)


@pytest.fixture
def sdk(server: HostileServer) -> Iterator[AtomaSDK]:
    with make_sdk(server) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
