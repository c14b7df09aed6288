"""Wire helpers shared by the routes: compact JSON, the proxy's error bodies, SSE framing."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

# The proxy's client-facing codes and default messages (protocol.md §7).
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("REQUEST_ERROR", "Request error"),
    401: ("AUTH_ERROR", "Authentication failed"),
    402: ("BALANCE_ERROR", "Insufficient balance"),
    404: ("NOT_FOUND", "Resource not found"),
    423: ("LOCKED", "Locked"),
    425: ("UNAVAILABLE_STACK", "Stack unavailable"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("INTERNAL_ERROR", "Internal server error occurred"),
    501: ("NOT_IMPLEMENTED", "Endpoint not implemented"),
    503: ("SERVICE_UNAVAILABLE", "Service unavailable"),
}
#: Codes whose message is fixed whatever the status (``400 FIAT_PAYMENTS_ONLY``, since 2025-07-20).
_CODE_MESSAGES = {"FIAT_PAYMENTS_ONLY": "Only fiat payments are supported"}
#: What the proxy says when the node answered 400 (bad base64, lengths, hash mismatch, unknown model).
NODE_BAD_REQUEST = "Bad Request"
#: What the proxy says when the node answered 500 (wrong or stale node key, decryption failure).
NODE_INTERNAL_ERROR = "Inference service returned status code error 500 Internal Server Error"

KEEP_ALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache"}


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON in insertion order, as serde_json writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def event(data: bytes) -> bytes:
    """One SSE event carrying ``data``."""
    return b"data: " + data + b"\n\n"


def json_response(value: Any, status: int = 200) -> Response:
    return Response(dumps(value), status_code=status, media_type="application/json")


def error_response(
    status: int, message: str | None = None, *, retry_after: float | None = None, code: str | None = None
) -> Response:
    """``{"error": {"code", "message"}}`` with the proxy's code for ``status`` (or ``code``)."""
    default_code, default = _ERRORS.get(
        status, ("INTERNAL_ERROR" if status >= 500 else "REQUEST_ERROR", "Error")
    )
    if code is None:
        code = default_code
    else:
        default = _CODE_MESSAGES.get(code, default)
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = (
            str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        )
    body = {"error": {"code": code, "message": message or default}}
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


def request_error(detail: str) -> Response:
    """A 400 ``REQUEST_ERROR`` with the proxy's ``Request error: <detail>`` message."""
    return error_response(400, f"Request error: {detail}")
