"""The sentinel for "not given" and the base class of every generated model.

Speakeasy semantics: an optional field left ``UNSET`` is omitted from the JSON body; a *nullable*
field explicitly set to ``None`` is sent as ``null``; a non-nullable optional field set to ``None``
is omitted too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeAlias, TypeVar

import pydantic
from pydantic_core import core_schema

if TYPE_CHECKING:
    from ..confidential.receipt import Receipt

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
        return core_schema.is_instance_schema(
            cls, serialization=core_schema.plain_serializer_function_ser_schema(_unset_to_none)
        )


def _unset_to_none(_value: Unset) -> None:
    return None


UNSET: Final = Unset()
UNSET_SENTINEL: Final = "~?~unset~?~sentinel~?~"

Nullable: TypeAlias = T | None
OptionalNullable: TypeAlias = T | Unset | None


class BaseModel(pydantic.BaseModel):
    """Base of generated models: populated by name, extra keys kept, no input values in errors."""

    model_config = pydantic.ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        protected_namespaces=(),
        extra="allow",
        hide_input_in_errors=True,
    )
    #: Names of fields whose ``None`` is sent as ``null`` (set by the generator).
    __nullable_fields__: ClassVar[frozenset[str]] = frozenset()
    _atoma_receipt: Any = pydantic.PrivateAttr(default=None)

    @property
    def receipt(self) -> Receipt | None:
        """The verification receipt of a confidential call's result (None on other models)."""
        receipt: Receipt | None = self._atoma_receipt
        return receipt
