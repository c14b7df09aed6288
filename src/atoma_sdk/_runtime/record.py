"""Value classes without ``dataclasses``: the SDK's settings, descriptors and per-call options.

``@dataclass`` writes and compiles each class's methods when its module is imported, about 1 ms a class;
it was half of ``import atoma_sdk``. A :class:`Record` subclass lists its fields in ``__slots__`` and writes
its own ``__init__`` taking each of them (so ``help()`` and IDEs read a real signature); the order of
``__init__``'s parameters is the order of the fields, which equality, ``repr``, :meth:`~Record.replace`,
copying and pickling follow.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

__all__ = ["FrozenRecord", "Record", "set_field"]

R = TypeVar("R", bound="Record")

#: How a :class:`FrozenRecord`'s ``__init__`` sets its fields (its own ``__setattr__`` refuses).
set_field = object.__setattr__


class Record:
    """A mutable value (so unhashable). Its fields: the parameters of ``__init__``, which are its slots."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:  # a base such as FrozenRecord: no fields of its own
            if cls.__dict__.get("__slots__"):
                raise TypeError(f"{cls.__name__}: a record with fields writes its __init__")
            return
        code = cls.__init__.__code__
        cls._fields = code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount]
        slots = {name for klass in cls.__mro__ for name in klass.__dict__.get("__slots__", ())}
        if set(cls._fields) != slots:
            raise TypeError(f"{cls.__name__}: __init__'s parameters must be its __slots__")

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self._values()

    def replace(self: R, **changes: Any) -> R:
        """A copy with the given fields changed (``dataclasses.replace``'s job)."""
        unknown = changes.keys() - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)


class FrozenRecord(Record):
    """An immutable, hashable value; ``__init__`` sets fields with :data:`set_field`."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())
