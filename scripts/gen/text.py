"""Docstrings, comments and literals for generated code."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

WIDTH = 109
_LEAD = re.compile(r"^(\s*(?:[-*]\s+|\d+\.\s+)?)")


def wrap(text: str, width: int) -> list[str]:
    """Wrap each long line of ``text`` to ``width``, keeping indentation and list bullets."""
    out: list[str] = []
    for raw in text.strip().splitlines():
        line = raw.rstrip()
        if len(line) <= width:
            out.append(line)
            continue
        lead = _LEAD.match(line).group(1)  # type: ignore[union-attr]
        out.extend(
            textwrap.wrap(
                line,
                width,
                initial_indent="",
                subsequent_indent=" " * len(lead),
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [line]
        )
    return out


def docstring(text: str, indent: str) -> str:
    """A triple-quoted docstring at ``indent`` (empty text gives an empty string)."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    if not text:
        return ""
    lines = wrap(text, WIDTH - len(indent) - 3)
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""\n'
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return (
        f'{indent}"""{lines[0]}\n\n{body}\n{indent}"""\n'
        if lines[1]
        else (f'{indent}"""{lines[0]}\n{body}\n{indent}"""\n')
    )


def comment(text: str, indent: str) -> str:
    """``#:`` comment lines at ``indent``."""
    lines = wrap(text, WIDTH - len(indent) - 3)
    return "".join(f"{indent}#: {line}".rstrip() + "\n" for line in lines)


def literal(value: Any) -> str:
    """A Python literal for a JSON-like value."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))
