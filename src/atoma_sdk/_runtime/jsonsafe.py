"""The one JSON decoder for bytes that come from the network: every failure is a typed SDK error.

Deep nesting (``RecursionError``), invalid UTF-8, ``NaN`` / ``Infinity``, numbers beyond a float or beyond
:data:`MAX_INT_DIGITS` digits, and ordinary syntax errors all raise
:class:`~atoma_sdk.errors.MalformedResponseError` (or whatever ``error`` builds), chained to nothing: a
``JSONDecodeError`` keeps the whole text in ``.doc``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from .. import errors

__all__ = ["MAX_INT_DIGITS", "loads"]

#: Longest integer literal accepted (CPython's own default bound on int/str conversion).
MAX_INT_DIGITS = 4300


class _Rejected(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _constant(name: str) -> Any:
    raise _Rejected(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected("a number is out of range")
    return value


def _int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise _Rejected("a number is out of range")
    return int(text)


#: One decoder, built once (``json.loads`` with hooks builds a decoder and a scanner per call).
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float, parse_int=_int)
#: Its scanner: ``decode`` is this call between two whitespace matches and a length check.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads(
    data: str | bytes | bytearray,
    what: str = "the response",
    error: Callable[[str], Exception] = errors.MalformedResponseError,
) -> Any:
    """Decode ``data``; on failure raise ``error("<what> is not valid JSON (<reason>)")`` with no cause.

    ``error`` lets a caller pick its own typed error (e.g. ``IntegrityError`` for a confidential envelope).
    """
    failure: str | None
    try:
        if not isinstance(data, str):  # as json.loads does with bytes
            data = data.decode(json.detect_encoding(data), "surrogatepass")
        elif data.startswith("\ufeff"):
            raise ValueError("unexpected BOM")  # json.loads refuses it too
        if data[:1] == "{":  # no leading whitespace: scan at once; done if nothing follows the value
            try:
                value, end = _SCAN(data, 0)
            except StopIteration:
                raise ValueError("malformed") from None
            if end == len(data):
                return value
        return _DECODER.decode(data)  # whitespace around the value, another kind of value, extra data
    except _Rejected as exc:
        failure = exc.reason
    except RecursionError:
        failure = "nested too deeply"
    except UnicodeDecodeError:
        failure = "not UTF-8"
    except ValueError:
        failure = "malformed"
    # Raised outside the handler: no __context__ keeps a JSONDecodeError (and with it the text).
    raise error(f"{what} is not valid JSON ({failure})")
