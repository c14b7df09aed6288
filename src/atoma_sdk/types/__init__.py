"""Sentinels and base types shared by every generated model.

``BaseModel`` is loaded on first access, so importing the sentinels builds no pydantic model class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .unset import UNSET, UNSET_SENTINEL, Nullable, OptionalNullable, Unset

if TYPE_CHECKING:
    from .basemodel import BaseModel

__all__ = ["UNSET", "UNSET_SENTINEL", "BaseModel", "Nullable", "OptionalNullable", "Unset"]


def __getattr__(name: str) -> Any:
    if name == "BaseModel":
        from .basemodel import BaseModel

        globals()["BaseModel"] = BaseModel
        return BaseModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
