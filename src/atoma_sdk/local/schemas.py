"""The JSON Schema subset the local model answers: check a schema, build a valid instance, test a value.

Supported: ``type`` (one name or a list, ``"null"`` included), objects (``properties``, ``required``,
``additionalProperties`` true/false/a schema, ``minProperties``/``maxProperties`` ignored beyond the
required keys), strings (``minLength``/``maxLength``, ``format`` date-time/date/time/uuid/email/uri),
integers and numbers (``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``), booleans, null,
arrays (``items``, ``prefixItems``, ``minItems``/``maxItems``), ``enum``, ``const``, ``anyOf``/``oneOf``,
one-element ``allOf``, ``$ref`` into ``$defs``/``definitions`` or ``#`` (recursion included), and the
annotations pydantic emits (``title``, ``description``, ``default``, ``examples``, ``discriminator``, ...).
Anything else raises :class:`SchemaError` (the node answers 400 with its message).

Instances are a pure function of the schema and a seed string: the same request gets the same answer.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["SchemaError", "check", "instance", "is_valid"]

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "discriminator",
        "$schema",
        "$id",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "strict",
        "minProperties",
        "maxProperties",
    }
)
_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "minLength",
        "maxLength",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    }
)
_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "email": "atoma@example.com",
    "uri": "https://example.com/atoma",
}
_WORDS = ("atoma", "local", "verified", "sealed", "enclave", "node", "signed", "answer")
#: Past this depth only required properties, minimal arrays and non-recursive branches are generated.
_SHALLOW = 4
_MAX_DEPTH = 32


class SchemaError(ValueError):
    """The schema is outside the supported subset, or admits no instance the model can build."""


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if ref == "#":
        return root
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            found = root.get(prefix[2:-1], {}).get(ref[len(prefix) :])
            if isinstance(found, Mapping):
                return found
    raise SchemaError(
        f"unsupported or unresolvable $ref {ref!r} (only '#', '#/$defs/...' and '#/definitions/...')"
    )


def _subschemas(schema: Mapping[str, Any]) -> list[Any]:
    subs: list[Any] = []
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if key not in schema:
            continue
        value = schema[key]
        if not isinstance(value, list) or not value:
            raise SchemaError(f"'{key}' must be a non-empty list of schemas")
        subs.extend(value)
    props = schema.get("properties", {})
    if not isinstance(props, Mapping):
        raise SchemaError("'properties' must be an object")
    subs.extend(props.values())
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            subs.append(schema[key])
    for key in ("$defs", "definitions"):
        defs = schema.get(key, {})
        if not isinstance(defs, Mapping):
            raise SchemaError(f"'{key}' must be an object")
        subs.extend(defs.values())
    return subs


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    names = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else None
    if names is None or not names or any(n not in _TYPES for n in names):
        raise SchemaError(f"unsupported 'type' {kind!r}")
    return list(names)


def check(schema: Any, root: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`SchemaError` unless ``schema`` is in the supported subset and has an instance."""
    _check(schema, root if root is not None else schema)
    instance(schema, seed="check")


def _check(schema: Any, root: Any) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        raise SchemaError("a schema must be an object")
    unknown = sorted(k for k in schema if k not in _KEYWORDS and k not in _ANNOTATIONS)
    if unknown:
        raise SchemaError(f"unsupported JSON Schema keyword(s): {', '.join(unknown)}")
    if "type" in schema:
        _types(schema)
    if "allOf" in schema and len(schema["allOf"]) != 1:
        raise SchemaError("'allOf' is supported with one schema only")
    if "format" in schema and schema["format"] not in _FORMATS:
        raise SchemaError(f"unsupported string format {schema['format']!r}")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise SchemaError("'enum' must be a non-empty list")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaError("'required' must be a list of property names")
    if "$ref" in schema:
        if not isinstance(schema["$ref"], str):
            raise SchemaError("'$ref' must be a string")
        _resolve(schema["$ref"], root)
    for sub in _subschemas(schema):
        _check(sub, root)


def _bounds(schema: Mapping[str, Any], step: float) -> tuple[float, float]:
    """The inclusive range of a number schema (exclusive bounds moved in by ``step``)."""
    low = float(schema.get("minimum", -math.inf))
    high = float(schema.get("maximum", math.inf))
    if "exclusiveMinimum" in schema:
        low = max(low, float(schema["exclusiveMinimum"]) + step)
    if "exclusiveMaximum" in schema:
        high = min(high, float(schema["exclusiveMaximum"]) - step)
    return low, high


class _Builder:
    """Builds one instance; ``seed`` picks among equally valid values."""

    def __init__(self, root: Mapping[str, Any], seed: str) -> None:
        self.root = root
        self.digest = hashlib.blake2b(seed.encode(), digest_size=32).digest()
        self.counter = 0

    def pick(self, count: int) -> int:
        self.counter += 1
        return self.digest[self.counter % len(self.digest)] % count

    def build(self, schema: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise SchemaError("the schema admits no finite instance (unbounded required recursion)")
        if schema is True or schema == {}:
            return _WORDS[self.pick(len(_WORDS))]
        if schema is False:
            raise SchemaError("a 'false' schema admits no instance")
        if "$ref" in schema:
            return self.build(_resolve(schema["$ref"], self.root), depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][self.pick(len(schema["enum"]))]
        if "allOf" in schema:
            return self.build(schema["allOf"][0], depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.branch(schema[key], depth)
        kinds = _types(schema) if "type" in schema else ["object" if "properties" in schema else "string"]
        if depth >= _SHALLOW and "null" in kinds:
            return None
        kind = kinds[self.pick(len(kinds))] if depth < _SHALLOW else kinds[0]
        return getattr(self, "_" + kind)(schema, depth)

    def branch(self, options: list[Any], depth: int) -> Any:
        order = list(range(len(options)))
        if depth < _SHALLOW:
            start = self.pick(len(options))
            order = order[start:] + order[:start]
        else:  # prefer branches that end the recursion: null first, then the rest in order
            order.sort(
                key=lambda i: 0 if isinstance(options[i], Mapping) and options[i].get("type") == "null" else 1
            )
        failure: SchemaError | None = None
        for i in order:
            try:
                return self.build(options[i], depth + 1)
            except SchemaError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def _object(self, schema: Mapping[str, Any], depth: int) -> Any:
        props: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        missing = required - set(props)
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in required or depth < _SHALLOW:
                out[name] = self.build(sub, depth + 1)
        for name in sorted(missing):
            extra = schema.get("additionalProperties", True)
            out[name] = self.build(extra if isinstance(extra, Mapping) else True, depth + 1)
        return out

    def _array(self, schema: Mapping[str, Any], depth: int) -> Any:
        prefix = schema.get("prefixItems", [])
        low = max(int(schema.get("minItems", 0)), len(prefix) if schema.get("items") is False else 0)
        high = int(schema.get("maxItems", max(low, 2)))
        count = min(high, max(low, 1 if depth < _SHALLOW else 0))
        items = schema.get("items", True)
        return [
            self.build(
                prefix[i] if i < len(prefix) else (items if isinstance(items, Mapping) else True), depth + 1
            )
            for i in range(count)
        ]

    def _string(self, schema: Mapping[str, Any], _depth: int) -> Any:
        if "format" in schema:
            return _FORMATS[schema["format"]]
        word = _WORDS[self.pick(len(_WORDS))]
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = (word * (low // len(word) + 1))[: max(low, len(word))]
        return text[: int(high)] if high is not None else text

    def _integer(self, schema: Mapping[str, Any], _depth: int) -> Any:
        low, high = _bounds(schema, 1)
        value = self.pick(10) + 1
        value = max(value, math.ceil(low)) if low > -math.inf else value
        value = min(value, math.floor(high)) if high < math.inf else value
        if not low <= value <= high:
            raise SchemaError("an integer range admits no value")
        return int(value)

    def _number(self, schema: Mapping[str, Any], _depth: int) -> Any:
        low, high = _bounds(schema, 1e-6)
        value = min(max(self.pick(10) + 1.5, low), high)
        if low > -math.inf and high < math.inf:
            value = (low + high) / 2
        if not low <= value <= high:
            raise SchemaError("a number range admits no value")
        return value

    def _boolean(self, _schema: Mapping[str, Any], _depth: int) -> Any:
        return self.pick(2) == 0

    def _null(self, _schema: Mapping[str, Any], _depth: int) -> Any:
        return None


def instance(schema: Any, *, seed: str = "", root: Mapping[str, Any] | None = None) -> Any:
    """A value valid against ``schema`` (inside the subset), deterministic in ``seed``."""
    base = root if root is not None else schema if isinstance(schema, Mapping) else {}
    return _Builder(base, seed).build(schema, 0)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def is_valid(schema: Any, value: Any, root: Mapping[str, Any] | None = None) -> bool:
    """Whether ``value`` satisfies ``schema`` (the supported subset; formats are not checked)."""
    base = root if root is not None else schema if isinstance(schema, Mapping) else {}
    return _valid(schema, value, base, 0)


def _valid(schema: Any, value: Any, root: Mapping[str, Any], depth: int) -> bool:
    if isinstance(schema, bool) or depth > 64:
        return schema is True
    if "$ref" in schema and not _valid(_resolve(schema["$ref"], root), value, root, depth + 1):
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "allOf" in schema and not all(_valid(s, value, root, depth + 1) for s in schema["allOf"]):
        return False
    if "anyOf" in schema and not any(_valid(s, value, root, depth + 1) for s in schema["anyOf"]):
        return False
    if "oneOf" in schema and sum(_valid(s, value, root, depth + 1) for s in schema["oneOf"]) != 1:
        return False
    if "type" in schema and not any(_is_type(value, k) for k in _types(schema)):
        return False
    if isinstance(value, dict):
        return _valid_object(schema, value, root, depth)
    if isinstance(value, list):
        return _valid_array(schema, value, root, depth)
    if isinstance(value, str):
        return int(schema.get("minLength", 0)) <= len(value) <= int(schema.get("maxLength", len(value)))
    if isinstance(value, int | float) and not isinstance(value, bool):
        low = float(schema.get("minimum", -math.inf))
        high = float(schema.get("maximum", math.inf))
        above = value > float(schema.get("exclusiveMinimum", -math.inf))
        return low <= value <= high and above and value < float(schema.get("exclusiveMaximum", math.inf))
    return True


def _valid_object(
    schema: Mapping[str, Any], value: dict[str, Any], root: Mapping[str, Any], depth: int
) -> bool:
    props: Mapping[str, Any] = schema.get("properties", {})
    if any(name not in value for name in schema.get("required", [])):
        return False
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = props.get(key, extra)
        if not _valid(sub, item, root, depth + 1):
            return False
    return True


def _valid_array(schema: Mapping[str, Any], value: list[Any], root: Mapping[str, Any], depth: int) -> bool:
    if not int(schema.get("minItems", 0)) <= len(value) <= int(schema.get("maxItems", len(value))):
        return False
    prefix = schema.get("prefixItems", [])
    items = schema.get("items", True)
    return all(
        _valid(prefix[i] if i < len(prefix) else items, item, root, depth + 1) for i, item in enumerate(value)
    )
