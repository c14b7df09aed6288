"""pytest plugin (entry point ``atoma_sdk``): the ``atoma_local_node`` fixture.

Importing this module is cheap and never fails: starlette and uvicorn are imported only when the fixture
runs, so projects without the ``local`` extra keep a working pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import LocalNode


@pytest.fixture
def atoma_local_node() -> Iterator[LocalNode]:
    """A local confidential node on a free loopback port (``.url``, ``.api_key``, ``.signer_address``,
    ``.faults``, ``.rotate_key()``); stopped after the test."""
    try:
        from .server import LocalNode
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        pytest.skip(f"atoma_local_node needs the 'local' extra (pip install 'atoma-sdk[local]'): {exc}")
    with LocalNode() as node:
        yield node
