"""Sentinels and base types shared by every generated model."""

from .basemodel import UNSET, UNSET_SENTINEL, BaseModel, Nullable, OptionalNullable, Unset

__all__ = ["UNSET", "UNSET_SENTINEL", "BaseModel", "Nullable", "OptionalNullable", "Unset"]
