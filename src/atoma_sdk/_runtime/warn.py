"""The one way the SDK issues warnings: attributed to the caller's line, with advice for its context.

``warn`` walks out of the SDK (and the HTTP/openai libraries it may run under, e.g. inside
``ConfidentialOpenAI``) to the first frame of the user's code, so ``file:line`` names the user's call.
Each warning says how to act on it in Python; it also carries the command-line form of that advice, which
the ``atoma`` command shows instead (see :func:`cli_message`).
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

__all__ = ["caller_location", "cli_message", "stacklevel", "warn"]

#: Top-level packages whose frames are never "the caller": the SDK and libraries that call into it.
_INTERNAL = frozenset({"atoma_sdk", "httpx", "httpx2", "httpcore", "openai", "anyio", "sniffio"})
_CLI_ATTR = "atoma_cli_message"


def _internal(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and name.partition(".")[0] in _INTERNAL


def stacklevel(frame: FrameType | None = None) -> int:
    """The ``warnings.warn`` stacklevel of the first frame outside the SDK, counted from ``frame``
    (default: the caller of this function, which is level 1)."""
    current: FrameType | None = frame if frame is not None else sys._getframe(1)
    level = 1
    while current is not None and _internal(current):
        current = current.f_back
        level += 1
    return level


def caller_location() -> tuple[str, int]:
    """The module name and line :func:`warn` attributes a warning issued from here to."""
    current: FrameType | None = sys._getframe(1)
    while current is not None and _internal(current):
        current = current.f_back
    if current is None:
        return "sys", 0
    return str(current.f_globals.get("__name__", "<string>")), current.f_lineno


def warn(text: str, category: type[Warning], *, python: str, cli: str) -> None:
    """Issue ``category`` with ``text`` and the Python advice, at the caller's line.

    ``python`` says what to do in code (a policy setting, a warning filter); ``cli`` the same with the
    command's flags. Neither may contain secrets: warnings are printed and logged.
    """
    warning = category(f"{text} ({python})")
    vars(warning)[_CLI_ATTR] = f"{text} ({cli})"
    warnings.warn(warning, stacklevel=stacklevel(sys._getframe(0)))


def cli_message(warning: Warning | str) -> str:
    """The command-line form of a warning issued by :func:`warn` (other warnings: their text)."""
    text = getattr(warning, _CLI_ATTR, None)
    return text if isinstance(text, str) else str(warning)
