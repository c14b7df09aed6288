"""``src/atoma_sdk/models/``: one module per schema (pydantic model + TypedDict twin), lazy ``__init__``."""

from __future__ import annotations

import keyword

from . import HEADER
from .imports import block
from .pytypes import annotation, refs, typeddict_annotation, uses
from .spec import Api, Model
from .text import comment, docstring, literal

PACKAGE = "src/atoma_sdk/models"


def _enum_member(value: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in value).upper().strip("_") or "EMPTY"
    return "_" + name if name[0].isdigit() else name


def _object(model: Model) -> str:
    out = [f"class {model.name}(BaseModel):\n", docstring(model.description or model.name, "    ")]
    if model.nullable_fields:
        names = ", ".join(literal(n) for n in model.nullable_fields)
        out.append(f"\n    __nullable_fields__: ClassVar[frozenset[str]] = frozenset({{{names}}})\n")
    for field in model.fields:
        out.append("\n")
        if field.description:
            out.append(comment(field.description, "    "))
        annot, default = annotation(field, "model")
        if field.attr != field.wire:
            args = ([f"default={default}"] if default else []) + [f"alias={literal(field.wire)}"]
            out.append(f"    {field.attr}: {annot} = pydantic.Field({', '.join(args)})\n")
        else:
            out.append(f"    {field.attr}: {annot}" + (f" = {default}" if default else "") + "\n")
    if model.envelope:
        key = literal(model.envelope)
        out.append(
            "\n    @pydantic.model_validator(mode=\"before\")\n    @classmethod\n"
            "    def _wrap_bare_event(cls, value: Any) -> Any:\n"
            f'        """Accept the bare object the wire sends as well as ``{{{key}: ...}}``."""\n'
            f"        if isinstance(value, dict) and {key} not in value:\n"
            f"            return {{{key}: value}}\n"
            "        return value\n"
        )
    out.append("\n\n")
    name = model.name + "TypedDict"
    if not model.fields:
        out.append(f"{name}: TypeAlias = dict[str, Any]\n")
        return "".join(out)
    if all(f.wire.isidentifier() and not keyword.iskeyword(f.wire) for f in model.fields):
        out.append(f"class {name}(TypedDict):\n")
        out.append(docstring(model.description or model.name, "    "))
        for field in model.fields:
            out.append(f"    {field.wire}: {typeddict_annotation(field)}\n")
    else:
        items = "".join(f"        {literal(f.wire)}: {typeddict_annotation(f)},\n" for f in model.fields)
        out.append(f'{name} = TypedDict(\n    "{name}",\n    {{\n{items}    }},\n)\n')
    return "".join(out)


def _enum(model: Model) -> str:
    out = [f"class {model.name}(str, Enum):\n", docstring(model.description or model.name, "    "), "\n"]
    out += [f"    {_enum_member(v)} = {literal(v)}\n" for v in model.values]
    values = ", ".join(literal(v) for v in model.values)
    out.append(f"\n\n{model.name}TypedDict: TypeAlias = {model.name} | Literal[{values}]\n")
    return "".join(out)


def _union(model: Model) -> str:
    from .pytypes import render

    variants = " | ".join(render(v, "model") for v in model.variants)
    if model.discriminator:
        variants = f"Annotated[{variants}, pydantic.Discriminator({literal(model.discriminator)})]"
    twins = " | ".join(render(v, "dict") for v in model.variants)
    doc = comment(model.description, "") if model.description else ""
    return f"{doc}{model.name}: TypeAlias = {variants}\n\n{doc}{model.name}TypedDict: TypeAlias = {twins}\n"


def _module(api: Api, module: str, members: list[Model]) -> str:
    main = [m for m in members if m.module == module and m.name not in _inline_names(members, module)]
    ordered = sorted((m for m in members if m not in main), key=lambda m: m.name) + main
    body = "\n\n".join(
        {"object": _object, "enum": _enum, "union": _union}[m.kind](m).rstrip("\n") + "\n" for m in ordered
    )
    local = {m.name for m in members}
    froms: dict[str, set[str]] = {}
    for model in members:
        for field_type in [f.type for f in model.fields] + list(model.variants):
            for ref in refs(field_type):
                if ref not in local:
                    target = api.models[ref]
                    froms.setdefault(f".{target.module}", set()).update({ref, ref + "TypedDict"})
    names = {
        "typing": ["Any", "ClassVar", "Literal", "TypeAlias", "Annotated"],
        "typing_extensions": ["NotRequired", "TypedDict"],
        "enum": ["Enum"],
        "..types": ["UNSET", "BaseModel", "Nullable", "OptionalNullable"],
    }
    for module_name, candidates in names.items():
        used = [n for n in candidates if uses(body, n)]
        if used:
            froms.setdefault(module_name, set()).update(used)
    # Drop imported twins that the body never mentions.
    for module_name, members_set in froms.items():
        if module_name.startswith(".") and not module_name.startswith(".."):
            members_set.intersection_update({n for n in members_set if uses(body, n)})
    plain = ["pydantic"] if uses(body, "pydantic") else []
    gap = "\n\n\n" if body.startswith("class ") else "\n\n"
    return f"{HEADER}\n{block(froms, plain)}{gap}{body}"


def _inline_names(members: list[Model], module: str) -> set[str]:
    """Models in ``module`` that are not the module's own schema (inline variants, built first)."""
    own = [m for m in members if _snake_is(m, module)]
    return {m.name for m in members} - {m.name for m in own}


def _snake_is(model: Model, module: str) -> bool:
    from .naming import snake

    return snake(model.name) == module


def _init(api: Api) -> str:
    names = sorted(list(api.models) + [n + "TypedDict" for n in api.models] + ["APIError"])
    def target(name: str) -> str:
        if name == "APIError":
            return "atoma_sdk.errors"
        return "." + api.models[name.removesuffix("TypedDict")].module

    lazy = "".join(f'    "{n}": "{target(n)}",\n' for n in names)
    froms: dict[str, set[str]] = {"..errors": {"APIError"}}
    for name in api.models:
        froms.setdefault(f".{api.models[name].module}", set()).update({name, name + "TypedDict"})
    type_imports = block(froms, indent="    ")
    all_names = "".join(f'    "{n}",\n' for n in names)
    return f'''{HEADER}
"""Models of Atoma's API (generated). Lazy: a model's module is imported on first access."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
{type_imports}

_LAZY: dict[str, str] = {{
{lazy}}}

__all__ = [
{all_names}]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
'''


def emit(api: Api) -> dict[str, str]:
    """Relative path -> file text for every models file."""
    by_module: dict[str, list[Model]] = {}
    for model in api.models.values():
        by_module.setdefault(model.module, []).append(model)
    files = {f"{PACKAGE}/{module}.py": _module(api, module, members) for module, members in by_module.items()}
    files[f"{PACKAGE}/__init__.py"] = _init(api)
    return files
