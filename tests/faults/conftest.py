"""The same fixtures as tests/adversarial: one local node per module, faults cleared per test."""

from __future__ import annotations

from adversarial.conftest import _clean_faults, anyio_backend, node, reusing_node

__all__ = ["_clean_faults", "anyio_backend", "node", "reusing_node"]
