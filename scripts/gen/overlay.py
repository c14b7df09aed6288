"""OpenAPI Overlay 1.0 (``update`` / ``remove`` actions with JSONPath targets), via jsonpath-python."""

from __future__ import annotations

import re
from typing import Any

import jsonpath

_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


class OverlayError(Exception):
    """The overlay document is malformed or an action's target matches nothing."""


def _steps(path: str) -> list[str | int]:
    """``$.a['b/c'][0]`` -> ``["a", "b/c", 0]`` (the normalised paths jsonpath-python returns)."""
    if not path.startswith("$"):
        raise OverlayError(f"unexpected path {path!r}")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            raise OverlayError(f"cannot parse path {path!r}")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        pos = match.end()
    return steps


def _locate(doc: Any, path: str) -> tuple[Any, str | int]:
    steps = _steps(path)
    if not steps:
        raise OverlayError("cannot remove the document root")
    node = doc
    for step in steps[:-1]:
        node = node[step]
    return node, steps[-1]


def merge(target: Any, update: Any) -> None:
    """Overlay merge: objects merge recursively, anything else replaces; an array target gets appended to."""
    if isinstance(target, list):
        target.append(update)
        return
    if not isinstance(target, dict) or not isinstance(update, dict):
        raise OverlayError("update must be an object when the target is an object")
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


def apply(doc: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Apply ``overlay``'s actions to ``doc`` in order (in place) and return it."""
    if str(overlay.get("overlay", "")).split(".")[0] != "1":
        raise OverlayError("only OpenAPI Overlay 1.x documents are supported")
    for number, action in enumerate(overlay.get("actions") or [], 1):
        target = action.get("target")
        if not isinstance(target, str):
            raise OverlayError(f"action {number}: missing target")
        paths = jsonpath.JSONPath(target).parse(doc, "PATH")
        if not paths:
            raise OverlayError(f"action {number}: target {target!r} matches nothing")
        if action.get("remove"):
            # Remove from the back so list indices stay valid.
            for path in sorted(paths, key=_steps_key, reverse=True):
                parent, key = _locate(doc, path)
                del parent[key]
        elif "update" in action:
            for value in jsonpath.JSONPath(target).parse(doc):
                merge(value, action["update"])
        else:
            raise OverlayError(f"action {number}: needs update or remove")
    return doc


def _steps_key(path: str) -> list[tuple[int, str, int]]:
    return [(0, s, 0) if isinstance(s, str) else (1, "", s) for s in _steps(path)]
