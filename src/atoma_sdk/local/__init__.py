"""The local confidential node: an Atoma proxy + node on loopback, for demos and tests (extra ``local``).

It speaks the real wire protocol (``/v1/nodes/lock``, the confidential chat / completions / embeddings /
images routes, plaintext routes, bearer auth, the proxy's error bodies and status mapping) and, by default,
today's upstream quirks (confidential completions streams deliver only keep-alives; vLLM-shaped streams;
see ``docs/local-node.md``). It answers with a *deterministic built-in model* (:mod:`atoma_sdk.local.model`,
not a language model) or, with ``NodeConfig(upstream=URL)``, with any OpenAI-compatible server behind it
(a confidential gateway)::

    from atoma_sdk.local import LocalNode

    with LocalNode() as node:            # free loopback port, background thread
        node.url, node.api_key, node.signer_address
        node.faults.fail_next(2, status=503, retry_after=1)
        node.rotate_key()

pytest users get the ``atoma_local_node`` fixture (:mod:`atoma_sdk.local.pytest_plugin`). A node in another
process is steered through its admin routes with ``Authorization: Bearer <admin token>``:
``POST /_admin/faults`` (JSON described in :mod:`atoma_sdk.local.faults`), ``GET`` / ``DELETE
/_admin/faults`` (list / clear) and ``POST /_admin/rotate-key``. :func:`serve` runs a node in the main
thread until Ctrl-C / SIGTERM (for the ``atoma node`` command).

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
