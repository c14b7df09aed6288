"""The local model's schema subset: every schema in it yields a valid instance (checked with jsonschema)."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Any, Literal, Optional, Union

import jsonschema
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoma_sdk.local.schemas import SchemaError, check, instance, is_valid

SCALARS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "minLength": 3, "maxLength": 9},
        {"type": "string", "format": "date-time"},
        {"type": "integer"},
        {"type": "integer", "minimum": -5, "maximum": -2},
        {"type": "integer", "exclusiveMinimum": 10},
        {"type": "number"},
        {"type": "number", "minimum": 0.5, "exclusiveMaximum": 0.75},
        {"type": "boolean"},
        {"type": "null"},
        {"type": ["string", "null"]},
        {"enum": ["red", "green", 3, None]},
        {"const": {"k": [1, 2]}},
        {},
    ]
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    names = st.text("abcdefgh", min_size=1, max_size=4)
    objects = st.builds(
        lambda props, required, closed: {
            "type": "object",
            "properties": props,
            "required": [p for p in props if required],
            **({"additionalProperties": False} if closed else {}),
        },
        st.dictionaries(names, children, max_size=4),
        st.booleans(),
        st.booleans(),
    )
    arrays = st.builds(
        lambda items, low: {"type": "array", "items": items, "minItems": low, "maxItems": low + 2},
        children,
        st.integers(0, 2),
    )
    unions = st.lists(children, min_size=1, max_size=3).map(lambda options: {"anyOf": options})
    refs = children.map(lambda target: {"$ref": "#/$defs/T", "$defs": {"T": target}})
    return objects | arrays | unions | refs | children.map(lambda s: {"allOf": [s], "description": "x"})


SCHEMAS = st.recursive(SCALARS, _extend, max_leaves=12)


def _rooted(schema: dict[str, Any]) -> dict[str, Any]:
    """Hoist nested $defs to the root (as pydantic emits them) so every $ref resolves from the root."""
    defs: dict[str, Any] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$defs" in node:  # a {"$ref": "#/$defs/T", "$defs": {"T": target}} pair: give it its own name
            name = f"T{len(defs)}"
            defs[name] = {}
            defs[name] = walk(node["$defs"]["T"])
            return {"$ref": f"#/$defs/{name}"}
        out = {}
        for key, value in node.items():
            if key in ("const", "enum"):
                out[key] = value
            else:
                out[key] = walk(value)
        return out

    root = walk(schema)
    if defs:
        root["$defs"] = defs
    return root


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCHEMAS, st.text(max_size=8))
def test_every_schema_in_the_subset_yields_a_valid_instance(schema: dict[str, Any], seed: str) -> None:
    schema = _rooted(schema)
    check(schema)
    value = instance(schema, seed=seed)
    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
    assert is_valid(schema, value)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Leaf(pydantic.BaseModel):
    when: datetime.datetime
    ident: uuid.UUID
    colour: Colour
    weight: float = pydantic.Field(gt=0, le=2)


class Tree(pydantic.BaseModel):
    """Recursive, with the usual pydantic shapes."""

    name: str = pydantic.Field(min_length=2, max_length=5)
    kind: Literal["oak", "elm"]
    leaves: list[Leaf]
    children: list[Tree] = []
    parent: Optional[Tree] = None  # noqa: UP045
    size: Union[int, str] = 3  # noqa: UP007
    tags: dict[str, int] = {}
    pair: tuple[int, str] = (1, "a")


@pytest.mark.parametrize("seed", ["a", "b", "c", "d"])
def test_pydantic_schemas_yield_instances_that_pydantic_accepts(seed: str) -> None:
    schema = Tree.model_json_schema()
    value = instance(schema, seed=seed)
    jsonschema.validate(value, schema)
    Tree.model_validate(value)


def test_self_recursion_through_the_root_ends() -> None:
    schema = {
        "type": "object",
        "properties": {
            "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
            "items": {"type": "array", "items": {"$ref": "#"}},
        },
        "required": ["next", "items"],
        "additionalProperties": False,
    }
    for seed in "abcdef":
        jsonschema.validate(instance(schema, seed=seed), schema)


@pytest.mark.parametrize(
    ("schema", "word"),
    [
        ({"type": "string", "pattern": "^a+$"}, "pattern"),
        ({"not": {"type": "string"}}, "not"),
        ({"type": "object", "if": {}, "then": {}}, "if"),
        ({"type": "date"}, "type"),
        ({"$ref": "https://example.com/s.json"}, "$ref"),
        ({"type": "string", "format": "ipv4"}, "format"),
        ({"type": "object", "properties": {"n": {"$ref": "#"}}, "required": ["n"]}, "finite"),
        ({"type": "integer", "minimum": 3, "maximum": 2}, "integer"),
    ],
)
def test_schemas_outside_the_subset_are_refused_by_name(schema: dict[str, Any], word: str) -> None:
    with pytest.raises(SchemaError, match=word.replace("$", r"\$")):
        check(schema)
