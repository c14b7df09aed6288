"""Types to JSON Schemas: a strict ``response_format`` for ``parse()`` and tool definitions for ``tools=``.

A *response type* is a pydantic model, a TypedDict or a dataclass (anything ``pydantic.TypeAdapter``
takes). A *tool* is a dict (sent as is), a pydantic model (its fields are the arguments) or a typed
Python function (its parameters are the arguments, its docstring the description).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

import pydantic

__all__ = [
    "adapter",
    "function_tool",
    "pydantic_function_tool",
    "response_format",
    "strict_schema",
    "tool_param",
]


@functools.lru_cache(maxsize=256)
def adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    """The (cached) TypeAdapter that validates a response type."""
    return pydantic.TypeAdapter(tp)


def _name(tp: Any) -> str:
    name = getattr(tp, "__name__", None) or "response"
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]


def strict_schema(schema: Any) -> Any:
    """A copy of ``schema`` in strict form: objects closed unless they say otherwise (``dict[str, X]``),
    every property required."""
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: strict_schema(value) for key, value in schema.items() if key not in ("properties", "$defs")}
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), Mapping):
            out[key] = {name: strict_schema(sub) for name, sub in schema[key].items()}
    if schema.get("type") == "object" or "properties" in schema:
        out.setdefault("additionalProperties", False)
        if "properties" in schema:
            out["required"] = list(schema["properties"])
    return out


def response_format(tp: Any) -> dict[str, Any]:
    """The strict ``json_schema`` response format of a response type."""
    schema = tp.model_json_schema() if _is_model(tp) else adapter(tp).json_schema()
    return {
        "type": "json_schema",
        "json_schema": {"name": _name(tp), "schema": strict_schema(schema), "strict": True},
    }


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, pydantic.BaseModel)


def _function(name: str, description: str | None, schema: dict[str, Any], strict: bool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": strict_schema(schema) if strict else schema}
    if description:
        function["description"] = description
    function["strict"] = strict
    return {"type": "function", "function": function}


def pydantic_function_tool(model: type[pydantic.BaseModel], *, name: str | None = None) -> dict[str, Any]:
    """A tool whose arguments are ``model``'s fields (``strict`` when every field is required)."""
    schema = model.model_json_schema()
    strict = all(field.is_required() for field in model.model_fields.values())
    return _function(name or model.__name__, inspect.getdoc(model), schema, strict)


@functools.lru_cache(maxsize=256)
def arguments_model(fn: Callable[..., Any]) -> type[pydantic.BaseModel]:
    """A pydantic model of a function's parameters (every parameter must be annotated)."""
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}() cannot take *args or **kwargs")
        if param.name not in hints:
            raise TypeError(f"tool {fn.__name__}(): parameter {param.name!r} needs a type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model: type[pydantic.BaseModel] = pydantic.create_model(
        f"{fn.__name__}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    return model


def function_tool(fn: Callable[..., Any]) -> dict[str, Any]:
    """A tool for a typed function (``strict`` when every parameter is required)."""
    model = arguments_model(fn)
    schema = model.model_json_schema()
    schema.pop("title", None)
    strict = all(field.is_required() for field in model.model_fields.values())
    return _function(fn.__name__, inspect.getdoc(fn), schema, strict)


def tool_param(tool: Any) -> Any:
    """What ``tools=`` sends for one entry: a dict / generated model as is, else a generated definition."""
    if _is_model(tool):
        return pydantic_function_tool(tool)
    if isinstance(tool, Mapping | pydantic.BaseModel):
        return tool
    if callable(tool):
        return function_tool(tool)
    raise TypeError(f"tools= takes dicts, pydantic models or typed functions, not {type(tool).__name__}")
