"""Typed ``with_raw_response``: per resource, a Protocol of its methods returning ``RawResponse[...]``.

The run-time side (``_runtime.raw.RawResponses``) wraps any method; this only gives type checkers the
shape: ``class <Resource>Raw(Protocol)`` (under ``TYPE_CHECKING``) repeats each generated method's
signatures, overloads included, with ``RawResponse[<result>]`` results, and the resource class declares
``with_raw_response: <Resource>Raw`` for type checkers.
"""

from __future__ import annotations

import re

from .text import docstring

# One rendered signature: optional @overload, then ``def name(\n ... \n    ) -> result:``.
_SIGNATURE = re.compile(
    r"(?P<overload>    @overload\n)?    (?P<head>(?:async )?def) (?P<name>\w+)\(\n(?P<params>.*?)\n    \) -> "
    r"(?P<result>[^\n]+):\n",
    re.DOTALL,
)


def protocol_name(class_name: str) -> str:
    return f"{class_name}Raw"


def attribute(class_name: str) -> str:
    """The lines in the resource class that type its ``with_raw_response``."""
    return f"    if TYPE_CHECKING:\n        with_raw_response: {protocol_name(class_name)}\n"


def protocol(class_name: str, methods: str) -> str:
    """The Protocol (indented under ``if TYPE_CHECKING:``) from the class's rendered ``methods``."""
    found: dict[str, list[tuple[bool, str]]] = {}
    for m in _SIGNATURE.finditer(methods):
        if m.group("name").startswith("_"):
            continue
        text = (
            f"    {m.group('head')} {m.group('name')}(\n{m.group('params')}\n"
            f"    ) -> RawResponse[{m.group('result')}]: ...\n"
        )
        found.setdefault(m.group("name"), []).append((m.group("overload") is not None, text))
    out = []
    for variants in found.values():
        overloads = [text for is_overload, text in variants if is_overload]
        out += [f"    @overload\n{text}" for text in overloads] if overloads else [variants[0][1]]
    doc = docstring(f"``{class_name}.with_raw_response`` for type checkers: RawResponse[<result>].", "    ")
    cls = f"class {protocol_name(class_name)}(Protocol):\n{doc}\n" + "\n".join(out)
    indented = "".join(f"    {line}" if line.strip() else line for line in cls.splitlines(keepends=True))
    return f"\n\nif TYPE_CHECKING:\n\n{indented}"
