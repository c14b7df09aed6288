"""The base class of every generated model (``UNSET`` and friends live in :mod:`.unset`).

Speakeasy semantics: an optional field left ``UNSET`` is omitted from the JSON body; a *nullable*
field explicitly set to ``None`` is sent as ``null``; a non-nullable optional field set to ``None``
is omitted too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pydantic

from .unset import UNSET, UNSET_SENTINEL, Nullable, OptionalNullable, Unset

if TYPE_CHECKING:
    from ..confidential.receipt import Receipt

__all__ = ["UNSET", "UNSET_SENTINEL", "BaseModel", "Nullable", "OptionalNullable", "Unset"]


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

    # The receipt lives in ``__pydantic_private__``, set only on a confidential result. No ``PrivateAttr``:
    # one would make pydantic run a Python post-init hook for every model instance it validates, nested
    # ones included (about 20 us per streamed chunk).
    def _get_atoma_receipt(self) -> Any:
        private = self.__pydantic_private__
        return None if private is None else private.get("_atoma_receipt")

    def _set_atoma_receipt(self, value: Any) -> None:
        private = {**(self.__pydantic_private__ or {}), "_atoma_receipt": value}
        object.__setattr__(self, "__pydantic_private__", private)

    _atoma_receipt = property(_get_atoma_receipt, _set_atoma_receipt)

    @property
    def receipt(self) -> Receipt | None:
        """The verification receipt of a confidential call's result (None on other models)."""
        receipt: Receipt | None = self._atoma_receipt
        return receipt

    def to_dict(
        self,
        *,
        mode: Literal["python", "json"] = "python",
        by_alias: bool = True,
        exclude_unset: bool = True,
        exclude_none: bool = False,
    ) -> dict[str, Any]:
        """The model as a dict keyed by the API's field names; fields never set are left out.

        ``mode="json"`` gives JSON-compatible values only. The receipt of a confidential result is not
        part of it (``result.receipt.to_dict()``).
        """
        return self.model_dump(
            mode=mode, by_alias=by_alias, exclude_unset=exclude_unset, exclude_none=exclude_none
        )

    def to_json(
        self,
        *,
        indent: int | None = 2,
        by_alias: bool = True,
        exclude_unset: bool = True,
        exclude_none: bool = False,
    ) -> str:
        """The model as JSON text (same fields as :meth:`to_dict`; ``indent=None`` for one line)."""
        return self.model_dump_json(
            indent=indent, by_alias=by_alias, exclude_unset=exclude_unset, exclude_none=exclude_none
        )
