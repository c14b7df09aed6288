"""The sentinel for "not given" and the nullable aliases; importing this module loads no pydantic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeAlias, TypeVar

if TYPE_CHECKING:
    from pydantic_core import core_schema

__all__ = ["UNSET", "UNSET_SENTINEL", "Nullable", "OptionalNullable", "Unset"]

T = TypeVar("T")


class Unset:
    """Type of :data:`UNSET`: a value the caller did not give."""

    _instance: ClassVar[Unset | None] = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> core_schema.CoreSchema:
        # A model dumped with UNSET fields (``model_dump()`` without ``exclude_unset``) shows them as null.
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(
            cls, serialization=core_schema.plain_serializer_function_ser_schema(_unset_to_none)
        )


def _unset_to_none(_value: Unset) -> None:
    return None


UNSET: Final = Unset()
UNSET_SENTINEL: Final = "~?~unset~?~sentinel~?~"

Nullable: TypeAlias = T | None
OptionalNullable: TypeAlias = T | Unset | None
