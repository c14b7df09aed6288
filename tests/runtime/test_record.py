"""The SDK's value classes (``_runtime.record``): what ``dataclasses`` gave them, without its import cost."""

from __future__ import annotations

import copy
import pickle
from typing import Generic, TypeVar

import pytest

from atoma_sdk._runtime.config import SDKConfig
from atoma_sdk._runtime.forms import Dispatch
from atoma_sdk._runtime.hooks import HookContext
from atoma_sdk._runtime.operation import Operation, RequestOptions, RetryRule
from atoma_sdk._runtime.record import FrozenRecord, Record, set_field
from atoma_sdk.confidential_chat import CREATE, CREATE_FORMS
from atoma_sdk.utils.retries import DEFAULT_RETRY_CONFIG, BackoffStrategy, RetryConfig

T = TypeVar("T")


class Pair(FrozenRecord, Generic[T]):
    __slots__ = ("left", "right")
    left: T
    right: int

    def __init__(self, left: T, right: int = 0) -> None:
        set_field(self, "left", left)
        set_field(self, "right", right)


def test_fields_follow_init_order_not_slot_order() -> None:
    assert Pair._fields == ("left", "right")
    assert RetryConfig._fields == ("strategy", "backoff", "retry_connection_errors", "max_attempts")
    assert Operation._fields[:3] == ("operation_id", "method", "path")
    assert repr(Pair("a", 2)) == "Pair(left='a', right=2)"


def test_equality_and_hash_follow_values() -> None:
    assert Pair("a", 1) == Pair("a", 1) and hash(Pair("a", 1)) == hash(Pair("a", 1))
    assert Pair("a", 1) != Pair("a", 2)
    assert Pair("a", 1) != ("a", 1)
    assert len({RequestOptions(), RequestOptions()}) == 1


def test_frozen_records_refuse_assignment() -> None:
    options = RequestOptions(timeout_ms=5)
    with pytest.raises(AttributeError, match="timeout_ms"):
        options.timeout_ms = 6  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del options.timeout_ms
    with pytest.raises(AttributeError):
        options.other = 1  # type: ignore[attr-defined]
    assert options.timeout_ms == 5


def test_subscripted_generic_call_works() -> None:
    # ``Operation[Model](...)`` is how generated modules write descriptors: typing's attempt to set
    # ``__orig_class__`` must fail quietly.
    op = Operation[int]("id", "GET", "/x")
    assert op == Operation("id", "GET", "/x") and op.retry_rule is RetryRule.DEFAULT
    assert Pair[str]("a").left == "a"


def test_replace_copy_and_pickle() -> None:
    changed = DEFAULT_RETRY_CONFIG.replace(max_attempts=7)
    assert changed.max_attempts == 7 and changed.backoff == DEFAULT_RETRY_CONFIG.backoff
    assert DEFAULT_RETRY_CONFIG.max_attempts == 3
    with pytest.raises(TypeError, match="no field"):
        DEFAULT_RETRY_CONFIG.replace(attempts=7)
    for value in (DEFAULT_RETRY_CONFIG, CREATE, CREATE_FORMS, HookContext("op", "http://x", 1)):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value and copy.copy(value) == value


def test_mutable_records_are_unhashable_and_assignable() -> None:
    config = SDKConfig("http://x", bearer_auth="secret-token")
    with pytest.raises(TypeError):
        hash(config)
    config.timeout_ms = 10
    assert config.replace(timeout_ms=11).timeout_ms == 11 and config.timeout_ms == 10
    assert "secret-token" not in repr(config)  # its own repr wins over the record's
    with pytest.raises(TypeError, match="replace") as refused:
        pickle.dumps(config)  # it holds the token
    assert "secret-token" not in str(refused.value)
    dispatch = Dispatch(True, {}, RequestOptions())
    assert dispatch == Dispatch(True, {}, RequestOptions())


def test_a_record_must_take_exactly_its_slots() -> None:
    with pytest.raises(TypeError, match="__slots__"):

        class Missing(Record):
            __slots__ = ("a", "b")

            def __init__(self, a: int) -> None:
                self.a = a

    with pytest.raises(TypeError, match="__init__"):

        class NoInit(Record):
            __slots__ = ("a",)


def test_public_retry_classes_keep_their_signatures() -> None:
    strategy = BackoffStrategy(1, 2, 3.0, 4)
    assert RetryConfig("backoff", strategy, False, 2) == RetryConfig(
        strategy="backoff", backoff=strategy, retry_connection_errors=False, max_attempts=2
    )
    assert RetryConfig("none").enabled is False and DEFAULT_RETRY_CONFIG.enabled
