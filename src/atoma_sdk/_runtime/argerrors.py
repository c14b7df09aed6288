"""Argument errors in Python terms: which argument (``messages[0]["role"]``) is wrong and what it should be.

Pydantic reports locations that mix field names with union labels (``messages.0.user.content.str``) and
codes (``model_attributes_type``). This walks the request model along each location to drop the labels,
then says what was expected and the *type* of what was given; never a value (the arguments may be a
confidential prompt).
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic

__all__ = ["describe_arguments"]

_SIMPLE = {
    "string_type": "a str",
    "string_sub_type": "a str",
    "string_unicode": "a str",
    "int_type": "an int",
    "int_parsing": "an int",
    "int_from_float": "an int",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a bool",
    "bool_parsing": "a bool",
    "list_type": "a list",
    "tuple_type": "a list",
    "iterable_type": "a list",
    "dict_type": "a dict",
    "mapping_type": "a dict",
}
_BOUNDS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}
_SIGNS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _members(tp: Any) -> list[Any] | None:
    if get_origin(tp) in (Union, types.UnionType):
        return [_strip(a) for a in get_args(tp)]
    return None


def _tags(model: Any) -> set[Any]:
    """The ``Literal`` values of a model's fields (a tagged union member's tag, e.g. role "user")."""
    found: set[Any] = set()
    for field in model.model_fields.values():
        if get_origin(_strip(field.annotation)) is Literal:
            found.update(get_args(_strip(field.annotation)))
    return found


def _pick(members: list[Any], label: str) -> Any:
    """The union member pydantic labelled ``label`` (None: a leaf, ``str`` or ``is-instance[Unset]``)."""
    for member in members:
        if _is_model(member) and (member.__name__ == label or label in _tags(member)):
            return member
        if label.startswith(("list[", "tuple[")) and get_origin(member) in (list, tuple, Sequence):
            return member
        if label.startswith("dict[") and get_origin(member) in (dict, Mapping):
            return member
    return None


def _field(model: Any, key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
    return None


def _walk(root: Any, loc: tuple[int | str, ...]) -> tuple[list[int | str], Any]:
    """The location without union labels, and the type expected there (None: unknown)."""
    path: list[int | str] = []
    tp: Any = root
    leaf = False
    for seg in loc:
        tp = _strip(tp) if tp is not None else None
        members = _members(tp) if tp is not None else None
        if members is not None and isinstance(seg, str):
            tp = _pick(members, seg)
            leaf = tp is None
            continue
        if leaf:  # below a leaf label only labels remain
            continue
        path.append(seg)
        if tp is None:
            continue
        if _is_model(tp):
            tp = _field(tp, str(seg))
        elif isinstance(seg, int):
            args = get_args(tp)
            tp = args[0] if args else None
        elif get_origin(tp) in (dict, Mapping):
            tp = get_args(tp)[1]
        else:
            tp = None
    return path, tp


def _where(path: list[int | str]) -> str:
    if not path:
        return "the arguments"
    text = str(path[0])
    for seg in path[1:]:
        text += f"[{seg}]" if isinstance(seg, int) else f'["{seg}"]'
    return text


def _tag_key(tp: Any) -> str | None:
    """The field every member of a tagged union of models has as a ``Literal`` (``role``, ``type``)."""
    members = [m for m in _members(_strip(tp)) or () if _is_model(m)]
    keys: set[str] | None = None
    for m in members:
        mine = {n for n, f in m.model_fields.items() if get_origin(_strip(f.annotation)) is Literal}
        keys = mine if keys is None else keys & mine
    return sorted(keys)[0] if keys else None


def _discriminator_tags(tp: Any) -> str:
    """``'assistant', 'system', ...``: the tags of a tagged union of models (empty when it is not one)."""
    members = _members(_strip(tp)) if tp is not None else None
    if not members or not all(_is_model(m) or m is type(None) for m in members):
        return ""
    tags = sorted(str(t) for m in members if _is_model(m) for t in _tags(m))
    return ", ".join(repr(t) for t in tags)


def _expected(item: Any, tp: Any) -> str:
    kind: str = item["type"]
    ctx: dict[str, Any] = item.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in ("model_attributes_type", "model_type", "dataclass_type"):
        model = _strip(tp)
        if _is_model(model):
            return f"a dict or a models.{model.__name__}"
        tags = _discriminator_tags(tp)
        key = _tag_key(tp)
        return f"a dict with a {key!r} key ({tags})" if tags and key else "a dict"
    if kind in ("literal_error", "enum"):
        return str(ctx.get("expected", "one of the allowed values"))
    if kind in _BOUNDS:
        key = _BOUNDS[kind]
        return f"a number {_SIGNS[key]} {ctx.get(key)}"
    if kind in ("too_short", "string_too_short"):
        return f"at least {ctx.get('min_length')} {'item' if kind == 'too_short' else 'character'}(s) long"
    if kind in ("too_long", "string_too_long"):
        return f"at most {ctx.get('max_length')} {'item' if kind == 'too_long' else 'character'}(s) long"
    return f"valid ({kind})"


def describe_arguments(exc: pydantic.ValidationError, model: Any, *, limit: int = 10) -> str:
    """``messages[0] should be a dict or a models.X, not a str; model is required`` for ``exc`` raised by
    validating arguments against ``model`` (a pydantic model class, or None when unknown)."""
    groups: dict[tuple[int | str, ...], dict[str, Any]] = {}
    for item in exc.errors(include_url=False, include_context=True, include_input=True):
        if item["type"] == "is_instance_of" or item["type"] == "none_required":
            continue  # the "leave it unset" / None members of an optional argument's union
        path, tp = _walk(model if _is_model(model) else None, tuple(item["loc"]))
        fresh: dict[str, Any] = {"expected": [], "got": None, "missing": False, "extra": False}
        group = groups.setdefault(tuple(path), fresh)
        if item["type"] in ("union_tag_not_found", "union_tag_invalid"):
            key = str((item.get("ctx") or {}).get("discriminator", "'type'")).strip("'")
            tags = (item.get("ctx") or {}).get("expected_tags") or _discriminator_tags(tp)
            group["note"] = f"{_where([*path, key])} should be one of {tags}"
            if item["type"] == "union_tag_not_found":
                group["note"] = f"{_where(path)} needs a {key!r} key: one of {tags}"
        elif item["type"] == "missing":
            group["missing"] = True
        elif item["type"] == "extra_forbidden":
            group["extra"] = True
        else:
            phrase = _expected(item, tp)
            if phrase not in group["expected"]:
                group["expected"].append(phrase)
            group["got"] = group["got"] or type(item.get("input")).__name__
    parts = []
    for loc, group in groups.items():
        where = _where(list(loc))
        if group.get("note"):
            parts.append(group["note"])
        elif group["missing"]:
            parts.append(f"{where} is required")
        elif group["extra"]:
            parts.append(f"{where} is not an accepted argument or key")
        else:
            parts.append(f"{where} should be {' or '.join(group['expected'])}, not {_got(group['got'])}")
    if len(parts) > limit:
        parts = [*parts[:limit], f"... ({len(parts) - limit} more)"]
    return "; ".join(parts) or "invalid arguments"


def _got(name: str | None) -> str:
    if name in (None, "NoneType"):
        return "None"
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
