"""Request bodies and response parsing with the generated models, looked up by name and cached.

No model class is ever built per call: names resolve lazily from ``atoma_sdk.models`` (or the resolver set
with :func:`set_resolver`) and are cached. Validation errors become typed SDK errors that list field
locations and error types only, never input values.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
import pydantic_core

from .. import errors
from ..types import Unset
from .jsonsafe import loads

__all__ = [
    "decode_response",
    "describe_validation_error",
    "encode_request",
    "parse_json",
    "resolve",
    "set_resolver",
]

Resolver = Callable[[str], Any]


class _Registry:
    """Resolved models by name, and the resolver that finds them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cache: dict[str, Any] = {}
        #: :func:`validator` by method (``validate_json`` / ``validate_python``), then name.
        self.validators: dict[str, dict[str, Callable[[Any], Any]]] = {
            "validate_json": {},
            "validate_python": {},
        }
        self.resolver: Resolver | None = None


_registry = _Registry()


def _default_resolver(name: str) -> Any:
    return getattr(importlib.import_module("atoma_sdk.models"), name)


def set_resolver(resolver: Resolver | None) -> None:
    """Resolve model names with ``resolver`` (None: ``atoma_sdk.models``); clears the cache. For tests."""
    with _registry.lock:
        _registry.resolver = resolver
        _registry.cache.clear()
        for found in _registry.validators.values():
            found.clear()


def resolve(name: str) -> Any:
    """The model (or type) called ``name``, cached; a pydantic model class or a cached ``TypeAdapter``."""
    cache = _registry.cache
    try:
        return cache[name]
    except KeyError:
        pass
    with _registry.lock:
        if name not in cache:
            target = (_registry.resolver or _default_resolver)(name)
            is_model = isinstance(target, type) and issubclass(target, pydantic.BaseModel)
            cache[name] = target if is_model else pydantic.TypeAdapter(target)
        return cache[name]


def validator(name: str, method: str = "validate_json") -> Callable[[Any], Any]:
    """``method`` (``validate_json`` or ``validate_python``) of the model or type called ``name``, cached
    until the resolver changes: the model's own validator (pydantic's ``model_validate_json`` /
    ``model_validate`` only forward to it, through a Python layer of keyword checks), an adapter's method
    for other types."""
    found = _registry.validators[method]
    try:
        return found[name]
    except KeyError:
        pass
    model = resolve(name)
    # A model whose build was deferred has a placeholder validator until its first use; reading the method
    # through it builds the model and gives the real validator's.
    target = model if isinstance(model, pydantic.TypeAdapter) else model.__pydantic_validator__
    validate: Callable[[Any], Any] = getattr(target, method)
    found[name] = validate
    return validate


def describe_validation_error(exc: pydantic.ValidationError, *, limit: int = 10) -> str:
    """``loc: type`` for each error (no input values, no messages that could quote them)."""
    items = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [_loc(item["loc"]) + ": " + item["type"] for item in items[:limit]]
    if len(items) > limit:
        parts.append(f"... ({len(items) - limit} more)")
    return "; ".join(parts)


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<body>"


#: Values with nothing inside to strip (exact types: subclasses take the general path).
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _strip_unset(value: Any) -> Any:
    if isinstance(value, Mapping):
        items = value.items()
        return {k: v if type(v) in _LEAVES else _strip_unset(v) for k, v in items if not isinstance(v, Unset)}
    if isinstance(value, list | tuple):
        return [v if type(v) in _LEAVES else _strip_unset(v) for v in value if not isinstance(v, Unset)]
    return value


_optional_non_nullable: dict[type, frozenset[str]] = {}


def _top_level(cls: type[pydantic.BaseModel], params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`_strip_unset` of a request's arguments, also without the top-level ``None`` of optional
    fields that are not nullable (the dump would drop them anyway; so the body of ``function_call=None``
    has no ``null`` and takes the one-call encoding)."""
    drop = _optional_non_nullable.get(cls)
    if drop is None:
        nullable: frozenset[str] = getattr(cls, "__nullable_fields__", frozenset())
        names: set[str] = set()
        for name, field in cls.model_fields.items():
            keys = {name, field.alias or name, field.serialization_alias or name}
            if not field.is_required() and not keys & nullable:
                names |= keys
        drop = _optional_non_nullable[cls] = frozenset(names)
    return {
        k: v if type(v) in _LEAVES else _strip_unset(v)
        for k, v in params.items()
        if not isinstance(v, Unset) and (v is not None or k not in drop)
    }


def _drop_non_nullable_none(model: pydantic.BaseModel, data: Any, *, deep: bool = True) -> None:
    """Remove ``None`` values of fields not in ``__nullable_fields__`` from ``model``'s dump (``deep``: also
    of the models inside it)."""
    if not isinstance(data, dict):
        return
    plan = _plan(type(model))
    for key in list(data):
        entry = plan.get(key)
        if entry is None:  # not a field (an extra key): left as it is
            continue
        name, nullable = entry
        value = getattr(model, name, None)
        if value is None:
            if not nullable:
                del data[key]
        elif deep and type(value) not in _LEAVES:
            _walk(value, data[key])


_plans: dict[type, dict[str, tuple[str, bool]]] = {}


def _plan(cls: type[pydantic.BaseModel]) -> dict[str, tuple[str, bool]]:
    """``{dumped key: (field name, nullable)}`` of a model class, built once."""
    plan = _plans.get(cls)
    if plan is None:
        nullable: frozenset[str] = getattr(cls, "__nullable_fields__", frozenset())
        plan = {}
        for name, field in cls.model_fields.items():
            key = field.serialization_alias or field.alias or name
            plan[key] = (name, name in nullable or key in nullable)
        _plans[cls] = plan
    return plan


def _walk(value: Any, data: Any) -> None:
    if isinstance(value, pydantic.BaseModel):
        _drop_non_nullable_none(value, data)
    elif isinstance(value, list | tuple) and isinstance(data, list) and len(value) == len(data):
        for item, dumped in zip(value, data, strict=True):
            _walk(item, dumped)
    elif isinstance(value, Mapping) and isinstance(data, dict):
        for k, item in value.items():
            if k in data:
                _walk(item, data[k])


#: Bodies of requests whose arguments are all strings, ints, bools or None (e.g. a lock's): the same
#: arguments validate and encode the same way, so they are validated once (floats are left out: -0.0 == 0.0).
_flat_bodies: dict[tuple[Any, ...], bytes] = {}
_FLAT = frozenset({str, int, bool, type(None)})


def _flat_key(model: Any, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A cache key of ``params`` for ``model`` (types included: 1 == True), or None if any value is nested."""
    key: list[Any] = [model]
    for name, value in params.items():
        kind = type(value)
        if kind in _FLAT:
            key.append((name, kind, value))
        elif not isinstance(value, Unset):
            return None
    return tuple(key)


def _remember(key: tuple[Any, ...], body: bytes) -> None:
    if len(_flat_bodies) >= 128:
        _flat_bodies.clear()
    _flat_bodies[key] = body


def encode_request(
    model_name: str | None, params: Mapping[str, Any], extra_body: Mapping[str, Any] | None = None
) -> bytes | None:
    """The compact UTF-8 JSON body for ``params`` validated with the request model (None: no body)."""
    if isinstance(params.get("response_format"), type):  # as openai-python: a class is for parse()
        raise TypeError("response_format=<a class> needs parse(): chat.parse(..., response_format=MyModel)")
    if model_name is None:
        if not extra_body:
            return None
        data: dict[str, Any] = {}
    else:
        model = resolve(model_name)
        key = None if extra_body else _flat_key(model, params)
        if key is not None:
            cached = _flat_bodies.get(key)
            if cached is not None:
                return cached
        # Failures are raised outside the handlers: the pydantic error (holding the caller's values,
        # e.g. a confidential prompt) must not stay in the typed error's __context__.
        failure: str | None = None
        try:
            if isinstance(model, pydantic.TypeAdapter):
                value = model.validate_python(_strip_unset(params))
                data = model.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
            else:
                instance = model.__pydantic_validator__.validate_python(_top_level(model, params))
                if not extra_body:
                    # Straight to JSON bytes (one C call): with no null anywhere there is no None to
                    # drop, and the bytes are those of the dump below (non-finite floats become null
                    # there too, so they take the path that refuses them).
                    encoded: bytes = model.__pydantic_serializer__.to_json(
                        instance, by_alias=True, exclude_unset=True
                    )
                    if b"null" not in encoded:
                        if key is not None:
                            _remember(key, encoded)
                        return encoded
                data = instance.model_dump(mode="json", by_alias=True, exclude_unset=True)
                _drop_non_nullable_none(instance, data)
        except pydantic.ValidationError as exc:
            from .argerrors import describe_arguments

            failure = f"invalid arguments: {describe_arguments(exc, model)}"
        except pydantic_core.PydanticSerializationError:
            failure = f"request for {model_name} cannot be serialised"
        if failure is not None:
            raise errors.RequestValidationError(failure)
    if extra_body:
        data.update(extra_body)
    body = _dumps(data)
    if body is None:  # json's messages name types, never values
        raise errors.RequestValidationError("request body (extra_body) is not JSON-serialisable")
    return body


def _dumps(data: Any) -> bytes | None:
    """Compact UTF-8 JSON of ``data``; None if it cannot be serialised."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        return None


# Exponents of 3+ digits (1e999) are what pydantic could turn into non-finite floats, with ``NaN`` /
# ``Infinity`` and literals of 309+ digits; only a hit pays for the exact check. Every digit becomes 0, E
# becomes e and ``+`` is deleted in one C pass, so ``[0-9][eE][+]?[0-9]{3}`` is one substring search (~1-2 µs
# on a 500-byte answer; a regex over the body cost ~5 µs). (No valid JSON has a ``+`` next to a number token
# other than inside its exponent, so the deletion joins nothing that could hide one.) A hit counts only as a
# number token (its digits, ``.`` and ``-`` preceded by ``:``, ``,``, ``[``, whitespace or the start), so hex
# ids such as ``"chatcmpl-...2e269..."`` (about a quarter of uuid4 ids) do not cost a second parse.
_FOLD_NUMBERS = bytes.maketrans(b"123456789E", b"000000000e")
_LONG_DIGITS = b"0" * 309
_IN_NUMBER = frozenset(b"0.-")
_BEFORE_NUMBER = frozenset(b" \t\n\r,:[")


def _maybe_non_finite(raw: bytes) -> bool:
    """Whether ``raw`` may hold a non-finite number (a superset: the caller checks exactly)."""
    if b"NaN" in raw or b"Infinity" in raw:
        return True
    folded = raw.translate(_FOLD_NUMBERS, b"+")
    if len(folded) >= 309 and _LONG_DIGITS in folded:  # 309+ digits in a row: beyond a float, no exponent
        return True
    at = folded.find(b"0e000")
    while at >= 0:
        start = at
        while start > 0 and folded[start - 1] in _IN_NUMBER:
            start -= 1
        if start == 0 or folded[start - 1] in _BEFORE_NUMBER:
            return True
        at = folded.find(b"0e000", at + 1)
    return False


def parse_json(model_name: str, content: bytes | str) -> Any:
    """Validate JSON ``content`` with the model ``model_name``.

    Raises pydantic.ValidationError (also for nesting, invalid UTF-8 and numbers out of range: pydantic's
    parser bounds them), or :class:`~atoma_sdk.errors.MalformedResponseError` for ``NaN`` / ``Infinity``
    and numbers beyond a float.
    """
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if _maybe_non_finite(raw):
        loads(raw)  # exact check (the pattern also matches inside strings); raises if really non-finite
    return validator(model_name)(content)


def decode_response(model_name: str | None, content: bytes, raw_response: Any = None) -> Any:
    """The response model parsed from a 2XX body; ResponseValidationError if it does not match."""
    if model_name is None:
        return None
    try:
        return parse_json(model_name, content)
    except pydantic.ValidationError as exc:
        message = f"response does not match {model_name}: {describe_validation_error(exc)}"
    # Raised outside the handler so that no __context__ keeps the pydantic error and the body in its inputs.
    raise errors.ResponseValidationError(message, raw_response) from None
