"""What run-time introspection shows for a generated confidential method.

Those methods accept two keyword forms through ``**kwargs`` (see ``_runtime.forms``); type checkers see
their overloads. ``inspect.signature``, ``help()`` and IDEs that introspect instead see the plaintext form
(the form users call): :func:`plaintext_signature` gives the implementation the signature of a stub.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["plaintext_signature"]

F = TypeVar("F", bound=Callable[..., Any])


def plaintext_signature(stub: Callable[..., Any]) -> Callable[[F], F]:
    """Decorator: the decorated function's ``__signature__`` is ``stub``'s (its annotations stay strings)."""
    signature = inspect.signature(stub)

    def apply(func: F) -> F:
        func.__signature__ = signature  # type: ignore[attr-defined]
        return func

    return apply
