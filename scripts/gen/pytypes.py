"""Render intermediate-form types as Python annotations, in three contexts.

``model``: pydantic fields and response types (``X``); ``dict``: TypedDict twins (``XTypedDict``);
``param``: method keywords, which accept either (``models.X | models.XTypedDict``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from .spec import Field, Type


def refs(typ: Type) -> Iterator[str]:
    """Names of the models ``typ`` mentions."""
    if typ.kind == "ref":
        yield typ.name
    for arg in typ.args:
        yield from refs(arg)


def has_ref(typ: Type) -> bool:
    return next(refs(typ), None) is not None


def render(typ: Type, ctx: str, prefix: str = "") -> str:
    """The annotation for ``typ`` in context ``ctx`` ("model", "dict" or "param")."""
    if typ.kind == "prim":
        return typ.name
    if typ.kind == "any":
        return "Any"
    if typ.kind == "literal":
        return "Literal[" + ", ".join(json.dumps(v) for v in typ.values) + "]"
    if typ.kind == "ref":
        if ctx == "model":
            return prefix + typ.name
        if ctx == "dict":
            return prefix + typ.name + "TypedDict"
        return f"{prefix}{typ.name} | {prefix}{typ.name}TypedDict"
    if typ.kind == "list":
        item = render(typ.args[0], ctx, prefix)
        if ctx == "param" and has_ref(typ.args[0]):
            return f"Sequence[{item}]"
        return f"list[{item}]"
    if typ.kind == "map":
        return f"dict[str, {render(typ.args[0], ctx, prefix)}]"
    if typ.kind == "union":
        return " | ".join(render(arg, ctx, prefix) for arg in typ.args)
    raise ValueError(typ.kind)


def annotation(field: Field, ctx: str, prefix: str = "") -> tuple[str, str | None]:
    """``(annotation, default)`` for a model field or keyword parameter (default None: required)."""
    inner = render(field.type, ctx, prefix)
    if field.required:
        return (f"Nullable[{inner}]" if field.nullable else inner), None
    if field.nullable:
        return f"OptionalNullable[{inner}]", "UNSET"
    return (inner if inner == "Any" else f"{inner} | None"), "None"


def typeddict_annotation(field: Field) -> str:
    inner = render(field.type, "dict")
    if field.nullable:
        inner = f"Nullable[{inner}]"
    return inner if field.required else f"NotRequired[{inner}]"


def uses(text: str, name: str) -> bool:
    """Whether the identifier ``name`` occurs in ``text`` (cheap import detection)."""
    import re

    return re.search(rf"(?<![\w.]){re.escape(name)}\b", text) is not None
