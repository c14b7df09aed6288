"""Identifier helpers: snake_case, PascalCase, safe Python names."""

from __future__ import annotations

import keyword
import re

_BOUNDARY_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_BOUNDARY_2 = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")

#: Attributes of atoma_sdk.types.BaseModel (pydantic's and ours) a field must not shadow.
MODEL_RESERVED = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "fields",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "receipt",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)
#: Keyword arguments every generated method takes; a body property with one of these names is renamed.
COMMON_OPTIONS = ("retries", "server_url", "timeout_ms", "http_headers", "extra_body")


def snake(name: str) -> str:
    """``ChatCompletionLogProbs`` -> ``chat_completion_log_probs``, ``Models`` -> ``models``."""
    text = _BOUNDARY_2.sub(r"\1_\2", _BOUNDARY_1.sub(r"\1_\2", name))
    return _NON_WORD.sub("_", text).strip("_").lower()


def pascal(name: str) -> str:
    """``confidential chat`` / ``image_url`` -> ``ConfidentialChat`` / ``ImageUrl``."""
    return "".join(part[:1].upper() + part[1:] for part in _NON_WORD.split(name) if part)


def field_name(wire: str) -> str:
    """A Python attribute name for the JSON key ``wire`` (trailing ``_`` when it would clash)."""
    name = _NON_WORD.sub("_", wire)
    if name[:1].isdigit():
        name = "_" + name
    if keyword.iskeyword(name) or name in MODEL_RESERVED or name.startswith("model_"):
        name += "_"
    return name


def param_name(wire: str) -> str:
    """A keyword-argument name for the body property ``wire``."""
    name = _NON_WORD.sub("_", wire)
    if keyword.iskeyword(name) or name in COMMON_OPTIONS or name in ("self", "verification"):
        name += "_"
    return name
