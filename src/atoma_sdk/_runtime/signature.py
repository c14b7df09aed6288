"""What run-time introspection shows for a generated confidential method.

Those methods accept two keyword forms through ``**kwargs`` (see ``_runtime.forms``); type checkers see
their overloads. ``inspect.signature``, ``help()`` and IDEs that introspect instead see the plaintext form
(the form users call): :func:`plaintext_signature` gives the implementation the signature of a stub.
It names the stub as ``__wrapped__``, which ``inspect.signature`` follows when asked, so importing a
resource builds no ``Signature`` (four per confidential resource cost ~1 ms of ``import``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["plaintext_signature"]

F = TypeVar("F", bound=Callable[..., Any])


def plaintext_signature(stub: Callable[..., Any]) -> Callable[[F], F]:
    """Decorator: ``inspect.signature`` of the decorated function is ``stub``'s (annotations stay strings)."""

    def apply(func: F) -> F:
        func.__wrapped__ = stub  # type: ignore[attr-defined]
        return func

    return apply
