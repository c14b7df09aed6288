"""Warnings shown once per scope (an SDK instance, or the process), without a filtered one counting as shown.

Like urllib3's warning for unverified TLS, a weakened :class:`VerificationPolicy` warns once per SDK instance.
"Once" means once *seen*: a warning that the active ``warnings`` filters ignored (a ``catch_warnings`` block
in a test, say) does not use up the scope's turn, so a later call still warns. Such a warning is not issued at
all (the filters would drop it), and the caller's line is only looked up when a matching filter names a module
or a line: a filtered warning costs a scan of the filters per call, not a walk of the stack.
"""

from __future__ import annotations

import re
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from .._runtime.warn import caller_location, warn
from .policy import ConfidentialityWarning, VerificationPolicy

__all__ = ["Once", "warn_weakened"]

_WHAT = {
    "verify_signatures": "node signatures are not verified (verify_signatures=False)",
    "require_signature": "unsigned answers are accepted (require_signature=False)",
    "require_response_hash": "answers without a response hash are accepted (require_response_hash=False)",
    "chunk_count": "duplicated or replayed stream chunks are not detected (chunk_count='off')",
}


class Once:
    """Remembers which warnings of one scope were shown."""

    def __init__(self) -> None:
        self._shown: set[str] = set()
        self._lock = threading.Lock()

    def warn(self, key: str, text: str, *, python: str, cli: str) -> None:
        """Warn (see :func:`atoma_sdk._runtime.warn.warn`) unless ``key`` was already shown in this scope."""
        with self._lock:
            if key in self._shown:
                return
            if _ignored(ConfidentialityWarning, f"{text} ({python})", caller_location):
                return  # the filters drop it: nothing to issue, and the scope keeps its turn
            self._shown.add(key)
        warn(text, ConfidentialityWarning, python=python, cli=cli)

    def reset(self) -> None:
        """Forget what was shown (the next warning of each key is shown again)."""
        with self._lock:
            self._shown.clear()


_PER_RUNTIME: weakref.WeakKeyDictionary[Any, Once] = weakref.WeakKeyDictionary()
_PER_RUNTIME_LOCK = threading.Lock()


def warn_weakened(runtime: Any, policy: VerificationPolicy) -> None:
    """One ConfidentialityWarning per SDK instance for each default check ``policy`` turns off."""
    weakened = policy.weakened()
    if not weakened:
        return
    with _PER_RUNTIME_LOCK:
        once = _PER_RUNTIME.get(runtime)
        if once is None:
            once = _PER_RUNTIME[runtime] = Once()
    for name in weakened:
        once.warn(
            f"weakened:{name}",
            f"confidential answers are less protected: {_WHAT[name]}",
            python="restore the VerificationPolicy default, or filter ConfidentialityWarning to silence this",
            cli="drop the flag that turned this check off",
        )


def _ignored(category: type[Warning], message: str, where: Callable[[], tuple[str, int]]) -> bool:
    """Whether the active filters would ignore this warning (the first matching filter decides, as in
    ``warnings``); ``where()`` gives the caller's module and line, asked only if a filter depends on them."""
    location: tuple[str, int] | None = None
    for action, text, filtered, modules, line in warnings.filters:
        if not (_matched(text, message) and issubclass(category, filtered)):
            continue
        if modules is not None or line:
            if location is None:
                location = where()
            if not (_matched(modules, location[0]) and line in (0, location[1])):
                continue
        return bool(action == "ignore")
    return False


def _matched(pattern: re.Pattern[str] | str | None, value: str) -> bool:
    """A filter field's match as ``warnings`` does it: None matches all, a plain string only itself."""
    if pattern is None:
        return True
    if isinstance(pattern, str):
        return pattern == value
    return pattern.match(value) is not None
