"""The base class of generated resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Runtime

__all__ = ["Resource"]


class Resource:
    """Base of generated resources: holds the SDK's runtime."""

    __slots__ = ("_runtime",)

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
