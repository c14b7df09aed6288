"""What the openai client gets back: OpenAI JSON, OpenAI SSE, or an error it understands (pure: no I/O).

Every body is built here, so headers always fit it: a JSON answer gets its own ``Content-Length`` and
``application/json``; a stream gets ``text/event-stream`` and no length; nothing carries a
``Content-Encoding``. Verification failures are 502s with ``x-should-retry: false`` (the openai client must
not retry them); mid-stream failures become a final SSE error event and the stream never sends ``[DONE]``.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any, Final

import httpx

from .. import errors
from ..confidential.receipt import Receipt
from ._request import Intercept, Refusal
from ._unit import RecordingCall

__all__ = ["DONE", "ReceiptCallback", "StreamRenderer", "error_response", "json_response", "transport_error"]

ReceiptCallback = Callable[[Receipt], None]

DONE: Final = b"data: [DONE]\n\n"
SSE_HEADERS: Final = (
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("x-atoma-confidential", "verified"),
)
_CHUNK_IDENTITY: Final = ("id", "object", "created", "model")
_PASSED_ON: Final = ("retry-after", "retry-after-ms", "x-request-id")


def json_response(call: RecordingCall, intercept: Intercept) -> httpx.Response:
    """The verified answer of a non-streamed unit, as the exact JSON the node signed."""
    plaintexts = call.take_plaintexts()
    if len(plaintexts) != 1:
        raise errors.IntegrityError("the confidential answer was not recorded exactly once")
    body = plaintexts[0]
    if intercept.base64_embeddings:
        body = _embeddings_as_base64(body)
    headers = [("content-type", "application/json"), ("x-atoma-confidential", "verified")]
    return httpx.Response(200, headers=headers, content=body)


def error_response(exc: errors.AtomaError | Refusal) -> httpx.Response:
    """The OpenAI-style error answer for a failed unit (never carrying plaintext)."""
    if isinstance(exc, Refusal):
        return _error(exc.status, exc.message, "invalid_request_error", exc.code, retry=False)
    if isinstance(exc, errors.APIError) and exc.status_code >= 400:
        body = exc.body if isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict) else None
        headers = [(name, exc.headers[name]) for name in _PASSED_ON if name in exc.headers]
        if exc.status_code in (423, 425):
            # A locked stack or a stale lock: a new unit (what an openai retry is) can succeed.
            headers.append(("x-should-retry", "true"))
        elif isinstance(exc, errors.NodeRejectedError):
            # The node refused the request itself: an identical retry would fail the same way.
            headers.append(("x-should-retry", "false"))
            return _error(exc.status_code, exc.message, "api_error", "node_rejected", headers=headers)
        if body is None:
            return _error(exc.status_code, exc.message, "api_error", exc.code, headers=headers)
        if isinstance(exc, errors.ServiceUnavailableError | errors.PaymentRequiredError):
            # The SDK's message names the model (or the units) the proxy's generic words leave out.
            body = {**body, "error": {**body["error"], "message": exc.message}}
        return httpx.Response(exc.status_code, headers=headers, content=_dumps(body))
    if isinstance(exc, errors.RequestValidationError):
        return _error(400, exc.message, "invalid_request_error", "invalid_request", retry=False)
    return _error(502, _failure(exc), "confidential_verification_error", _code(exc), retry=False)


def transport_error(exc: errors.APIConnectionError) -> httpx.TransportError:
    """The httpx error to raise for a unit that could not reach the API (the openai client may retry it)."""
    cause = exc.__cause__
    if isinstance(cause, httpx.TransportError):
        return cause
    if isinstance(exc, errors.APITimeoutError):
        return httpx.ReadTimeout(exc.message)
    return httpx.ConnectError(exc.message)


class StreamRenderer:
    """Turns a confidential stream's verified chunks into OpenAI SSE frames (shared by sync and async)."""

    def __init__(self, call: RecordingCall, intercept: Intercept, on_receipt: ReceiptCallback | None) -> None:
        self._call = call
        self._include_usage = intercept.include_usage
        self._on_receipt = on_receipt
        self._first: dict[str, Any] | None = None
        self._begun = False

    def begin(self) -> bool:
        """True the first time only: a body is sent once (a second pass, e.g. a drain, gets nothing)."""
        begun, self._begun = self._begun, True
        return not begun

    def item(self, item: Any) -> list[bytes]:
        """The frames to send once the stream yielded ``item`` (every chunk verified up to it)."""
        if not self._call.buffered:
            return self._recorded()
        chunk = item.data.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self._first is None:
            self._first = chunk
        return [_event(chunk)]

    def end(self, stream: Any) -> list[bytes]:
        """The closing frames of a complete stream: the usage chunk if asked for, then ``[DONE]``."""
        frames = self._buffered_usage(stream.usage) if self._call.buffered else self._recorded()
        if self._on_receipt is not None:
            self._on_receipt(stream.receipt)
        return [*frames, DONE]

    @staticmethod
    def error(exc: errors.AtomaError) -> bytes:
        """The final frame of a stream that failed: an OpenAI error event (the openai client raises it)."""
        error = {"message": _failure(exc), "type": "confidential_verification_error", "code": _code(exc)}
        return _event({"error": error})

    def _recorded(self) -> list[bytes]:
        """Frames for the chunks verified since the last call (the usage chunk only if asked for)."""
        return [frame for plaintext in self._call.take_plaintexts() if (frame := self._frame(plaintext))]

    def _frame(self, plaintext: bytes) -> bytes | None:
        chunk = json.loads(plaintext)
        if not self._include_usage and isinstance(chunk, dict) and chunk.get("choices") == []:
            return None
        if b"\n" in plaintext or b"\r" in plaintext:
            return _event(chunk)
        return b"data: " + plaintext + b"\n\n"

    def _buffered_usage(self, usage: Any) -> list[bytes]:
        if not self._include_usage or usage is None or self._first is None:
            return []
        first = self._first
        chunk: dict[str, Any] = {key: first[key] for key in _CHUNK_IDENTITY if key in first}
        chunk["choices"] = []
        chunk["usage"] = usage.model_dump(mode="json", by_alias=True, exclude_none=True)
        return [_event(chunk)]


def _error(
    status: int,
    message: str,
    kind: str,
    code: str | None,
    *,
    retry: bool | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> httpx.Response:
    extra = list(headers or [])
    if retry is not None:
        extra.append(("x-should-retry", "true" if retry else "false"))
    body = {"error": {"message": message, "type": kind, "code": code, "param": None}}
    extra.insert(0, ("content-type", "application/json"))
    return httpx.Response(status, headers=extra, content=_dumps(body))


def _failure(exc: errors.AtomaError) -> str:
    if isinstance(exc, errors.ConfidentialError):
        return f"confidential verification failed: {exc.message}"
    if isinstance(exc, errors.APIConnectionError):
        return f"the confidential stream was interrupted: {exc.message}"
    return f"the confidential call failed: {exc.message}"


def _code(exc: errors.AtomaError) -> str:
    """``IntegrityError`` -> ``"integrity_error"``."""
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _event(value: Any) -> bytes:
    return b"data: " + _dumps(value) + b"\n\n"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _embeddings_as_base64(plaintext: bytes) -> bytes:
    """Verified float embeddings as OpenAI's base64 form (little-endian float32), for callers who asked so."""
    answer = json.loads(plaintext)
    for entry in answer.get("data") or []:
        vector = entry.get("embedding")
        if isinstance(vector, list):
            entry["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return _dumps(answer)
