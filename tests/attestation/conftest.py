from __future__ import annotations

from collections.abc import Iterator

import pytest

from atoma_sdk.attestation.synthetic import SyntheticAttestor

from .servers import FakeNetwork, serve


@pytest.fixture(scope="session")
def attestor() -> SyntheticAttestor:
    return SyntheticAttestor.generate(devices=2, switches=1)


@pytest.fixture(scope="session")
def other_attestor() -> SyntheticAttestor:
    """Same certificate names as ``attestor`` (a look-alike hierarchy), different keys."""
    return SyntheticAttestor.generate(devices=2, switches=1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _served() -> Iterator[tuple[FakeNetwork, str]]:
    shared = FakeNetwork()
    with serve(shared) as url:
        yield shared, url


@pytest.fixture
def network(_served: tuple[FakeNetwork, str]) -> FakeNetwork:
    """The loopback server's state, reset for each test."""
    _served[0].reset()
    return _served[0]


@pytest.fixture
def base_url(network: FakeNetwork, _served: tuple[FakeNetwork, str]) -> str:
    return _served[1]
