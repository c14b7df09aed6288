from __future__ import annotations

import pytest

from atoma_sdk.attestation.synthetic import SyntheticAttestor


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
