"""The base class of generated resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Runtime

__all__ = ["Resource"]


class Resource:
    """Base of generated resources: holds the SDK's runtime."""

    __slots__ = ("_runtime",)

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def with_raw_response(self) -> Any:
        """The same methods, each returning a ``RawResponse`` (status, headers, request id, ``parse()``...).

        Typed per resource by the generator (see ``_runtime.raw``); at run time any method works.
        """
        from .raw import RawResponses

        return RawResponses(self)
