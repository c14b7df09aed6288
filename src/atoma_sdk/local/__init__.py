"""The local confidential node: an Atoma proxy + node on loopback, for demos and tests.

Imports are lazy so that the pytest plugin (which lives in this package) costs nothing to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import NodeConfig
    from .faults import Faults
    from .server import LocalNode, serve

_LAZY = {
    "create_app": ("atoma_sdk.local.app", "create_app"),
    "NodeConfig": ("atoma_sdk.local.config", "NodeConfig"),
    "Faults": ("atoma_sdk.local.faults", "Faults"),
    "LocalNode": ("atoma_sdk.local.server", "LocalNode"),
    "serve": ("atoma_sdk.local.server", "serve"),
}

__all__ = ["Faults", "LocalNode", "NodeConfig", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'atoma_sdk.local' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value
