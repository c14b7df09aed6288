"""Response parsing goes straight to each model's validator, and follows a changed resolver."""

from __future__ import annotations

import pydantic
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime import serde


class First(pydantic.BaseModel):
    a: int


class Second(pydantic.BaseModel):
    b: str


def test_parse_json_uses_the_current_resolver_models_and_adapters() -> None:
    serde.set_resolver({"Item": First, "Items": list[First]}.__getitem__)
    assert serde.parse_json("Item", b'{"a": 1}') == First(a=1)
    assert serde.parse_json("Items", '[{"a": 2}]') == [First(a=2)]
    serde.set_resolver({"Item": Second}.__getitem__)  # the cached parser of "Item" is forgotten
    assert serde.parse_json("Item", b'{"b": "x"}') == Second(b="x")
    with pytest.raises(pydantic.ValidationError):
        serde.parse_json("Item", b'{"a": 1}')


def test_python_validators_follow_the_resolver_too() -> None:
    # The confidential stream wraps each chunk through this cache: a changed resolver must not leave the
    # old model's validator behind.
    serde.set_resolver({"Item": First}.__getitem__)
    assert serde.validator("Item", "validate_python")({"a": 3}) == First(a=3)
    serde.set_resolver({"Item": Second}.__getitem__)
    assert serde.validator("Item", "validate_python")({"b": "y"}) == Second(b="y")


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": 1e999}', b'{"a": 1' + b"0" * 309 + b".5}"])
def test_non_finite_numbers_are_refused_before_validation(body: bytes) -> None:
    serde.set_resolver({"Any": dict}.__getitem__)
    with pytest.raises(errors.MalformedResponseError):
        serde.parse_json("Any", body)
