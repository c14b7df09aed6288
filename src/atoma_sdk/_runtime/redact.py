"""Keeping the bearer token out of what outlives a request: header checks before sending, scrubbing after.

Header values are validated before a request is built (a newline or non-ASCII character would otherwise
raise inside httpx/h11 with the value in the message). After each attempt the request's ``Authorization``
header is replaced, so responses and transport errors that point back at the request (``raw_response``,
``exc.request``, pickles, tracebacks) carry no token; a server that echoes the token in its body or headers
gets it replaced by ``<redacted>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from .. import errors

__all__ = ["check_headers", "refuse", "scrub", "valid_header_text"]

_AUTH = "authorization"
_REDACTED = errors.REDACTED
_REDACTED_BYTES = _REDACTED.encode()
#: What a scrubbed request's ``Authorization`` header says.
_SCRUBBED = f"Bearer {_REDACTED}"
#: Shorter secrets are not searched for in answers (redacting every "a" would garble them, not hide anything).
_MIN_SECRET = 6
#: Printable ASCII or tab, checked in one C call (a per-character generator cost ~5 µs per header).
_HEADER_TEXT = re.compile(r"[\t\x20-\x7e]*")


def valid_header_text(value: str) -> bool:
    """Whether ``value`` can go into an HTTP header as it is (printable ASCII or tab)."""
    return _HEADER_TEXT.fullmatch(value) is not None


def _first_bad(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        bad_value = not isinstance(value, str) or not valid_header_text(value)
        if bad_value or not name or not valid_header_text(name):
            return name if valid_header_text(name) else "a header name"
    return None


def check_headers(headers: Mapping[str, str]) -> None:
    """Raise :class:`~atoma_sdk.errors.HeaderValidationError` naming (never quoting) the first bad header.

    The raising frame holds no header value (the caller clears ``headers`` before the error propagates).
    """
    bad = _first_bad(headers)
    if bad is not None:
        refuse(bad)


def refuse(name: str) -> None:
    """Raise the :class:`~atoma_sdk.errors.HeaderValidationError` of header ``name`` (its value unquoted)."""
    raise errors.HeaderValidationError(
        f"the value of {name} cannot be sent over HTTP (a control character such as a newline, or a "
        "non-ASCII character); fix the value (e.g. strip the token)"
    )


def scrub(request: httpx.Request, response: httpx.Response | None = None) -> None:
    """Forget the request's token; redact it wherever ``response`` (read or error body) echoes it.

    Cheap when there is nothing to do: a request already scrubbed returns after one header lookup, and an
    answer is searched as bytes (its header values joined, then its body), each in one C call.
    """
    auth = request.headers.get(_AUTH)
    if auth is None or auth == _SCRUBBED:
        return
    request.headers[_AUTH] = _SCRUBBED
    if response is None:
        return
    secret = auth.partition(" ")[2] if auth.lower().startswith("bearer ") else auth
    if len(secret) < _MIN_SECRET:
        return
    needle = secret.encode("utf-8", "replace")
    raw = response.headers.raw
    if needle in b"\n".join([value for _, value in raw]):  # no header value holds a newline
        response.headers = httpx.Headers([(k, v.replace(needle, _REDACTED_BYTES)) for k, v in raw])
    content = getattr(response, "_content", None)
    if isinstance(content, bytes) and needle in content:
        response._content = content.replace(needle, _REDACTED_BYTES)
