"""Every error atoma-sdk raises, under one base: :class:`AtomaError`.

HTTP failures are :class:`APIError` (also importable as ``atoma_sdk.models.APIError``) or one of its
per-status subclasses. Messages carry what the *server* said and never plaintext, keys or tokens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AtomaError",
    "AttestationError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfidentialError",
    "IntegrityError",
    "InternalServerError",
    "KeyMismatchError",
    "HeaderValidationError",
    "LockedError",
    "NodeRejectedError",
    "MalformedResponseError",
    "NonceReuseError",
    "NotFoundError",
    "PaymentRequiredError",
    "RateLimitError",
    "RedirectError",
    "RequestValidationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServiceUnavailableError",
    "SignatureError",
    "StreamTruncatedError",
    "TooEarlyError",
    "UnprocessableEntityError",
    "error_for_status",
    "request_id",
    "reworded",
]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-atoma-request-id")
#: Server-provided text in ``str(exc)`` is cut to this many characters (the whole body stays on ``.body``).
MAX_SERVER_TEXT = 1000
REDACTED = "<redacted>"


def request_id(headers: Mapping[str, str]) -> str | None:
    """The request id a response's headers carry (``x-request-id`` and the like), or None."""
    return next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)


class AtomaError(Exception):
    """Base of every exception raised by atoma-sdk."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles carry no live response: it holds the request (and with it the request's headers).
        state = {k: v for k, v in self.__dict__.items() if k != "raw_response"}
        if "headers" in state:
            state["headers"] = dict(state["headers"])
        return (type(self), self.args, state)


class APIError(AtomaError):
    """The server answered with a 4XX or 5XX status (or sent an error event in a stream).

    ``status_code``, ``headers``, ``body`` (the parsed JSON body when it was JSON, else the text),
    ``raw_response`` and ``request_id`` describe the answer.
    """

    def __init__(
        self,
        message: str,
        raw_response: httpx.Response | None = None,
        body: Any = None,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.raw_response = raw_response
        self.body = body
        self.status_code = status_code if status_code is not None else (
            raw_response.status_code if raw_response is not None else 0
        )
        self.headers: Mapping[str, str] = (
            headers if headers is not None else (raw_response.headers if raw_response is not None else {})
        )
        self.request_id = request_id(self.headers)

    @property
    def code(self) -> str | None:
        """The server's error code (e.g. ``UNAVAILABLE_STACK``) when its body had one."""
        if isinstance(self.body, Mapping):
            error = self.body.get("error")
            if isinstance(error, Mapping) and isinstance(error.get("code"), str):
                return str(error["code"])
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIError):
    """400: the server rejected the request."""


class AuthenticationError(APIError):
    """401: the bearer token is missing or unknown."""


class PaymentRequiredError(APIError):
    """402: the account's balance is insufficient."""


class NotFoundError(APIError):
    """404: no such resource."""


class UnprocessableEntityError(APIError):
    """422: the request body did not match what the server expects."""


class LockedError(APIError):
    """423: the node or stack is locked."""


class TooEarlyError(APIError):
    """425: no valid lock for the stack (the lock expired or was consumed)."""


class RateLimitError(APIError):
    """429: too many requests (the proxy also answers 429 when it cannot reach the node)."""


class InternalServerError(APIError):
    """500 and other 5XX statuses without a more specific class."""


class NodeRejectedError(InternalServerError):
    """500 ``Bad Request``: the node refused the request itself (bad inner JSON, unsupported model, hash
    mismatch). Deterministic, so never retried: each retry would only take and spend a new lock."""


class ServiceUnavailableError(APIError):
    """503: no node can serve the request right now."""


class APIConnectionError(AtomaError):
    """The request could not be sent or its answer could not be read (connection refused, reset, ...)."""


class APITimeoutError(APIConnectionError):
    """A connect, read or overall timeout, or a stream that sent no event for its idle timeout."""


class RequestValidationError(AtomaError, ValueError):
    """The caller's arguments do not match the request schema (or an SDK option is invalid).

    The message lists field locations and error types only, never the values given.
    """


class ClientClosedError(AtomaError, RuntimeError):
    """A call through an SDK (or a ``with_options`` copy of it) after the SDK was closed."""


class ResponseValidationError(AtomaError):
    """A 2XX answer whose body does not match its schema."""

    def __init__(self, message: str, raw_response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.raw_response = raw_response
        self.status_code = raw_response.status_code if raw_response is not None else 0


class ConfidentialError(AtomaError):
    """A confidential answer failed verification; nothing unverified is returned."""


class IntegrityError(ConfidentialError):
    """A response failed decryption, its hash, or a consistency check (splicing, reflection, schema)."""


class SignatureError(ConfidentialError):
    """A response's node signature is missing, invalid, or from a signer that is not pinned."""


class StreamTruncatedError(ConfidentialError):
    """A confidential stream ended before every choice finished and the usage chunk arrived."""


class NonceReuseError(ConfidentialError):
    """Two chunks of one stream were encrypted under the same nonce and the policy says raise."""


class KeyMismatchError(ConfidentialError):
    """The node's key is not the one that was expected (rotation or substitution)."""


class AttestationError(ConfidentialError):
    """The node's attestation evidence did not verify; ``reason`` is a short machine-readable code."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class ResponseTooLargeError(ResponseValidationError):
    """A response body (or a stream's total bytes) grew past its cap while being read; ``limit`` is the cap.

    Compressed bodies count by their decoded size. Caps are per operation (``AtomaSDK(response_limits=...)``).
    """

    def __init__(self, message: str, raw_response: httpx.Response | None = None, *, limit: int = 0) -> None:
        super().__init__(message, raw_response)
        self.limit = limit


class MalformedResponseError(ResponseValidationError):
    """A response could not be decoded at all: JSON nested too deeply, invalid UTF-8, ``NaN`` / ``Infinity``,
    numbers out of range, or a ``Content-Encoding`` the SDK refuses (``br``, ``zstd``, unknown ones)."""


class RedirectError(APIError):
    """The server answered with a 3XX redirect. The SDK never follows redirects (not even with a client that
    would); the target (``Location``) is not repeated in the message."""


class HeaderValidationError(RequestValidationError):
    """A header value (e.g. the bearer token) holds a character HTTP cannot carry (a control character such
    as a trailing newline, or a non-ASCII character); the message names the header, never its value."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    423: LockedError,
    425: TooEarlyError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _parse_body(content: bytes) -> Any:
    """The JSON body, else its text: nesting, invalid UTF-8, NaN and oversized numbers all give the text."""
    try:
        return json.loads(content, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return content.decode("utf-8", "replace")


def cut(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with ``… (N more)`` saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more)"


def _describe(status: int, body: Any) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            parts = [str(error[k]) for k in ("code", "message") if error.get(k) is not None]
            if parts:
                return f"Status {status}: " + cut(": ".join(parts))
        if isinstance(error, str):
            return f"Status {status}: {cut(error)}"
    text = body if isinstance(body, str) else "" if body is None else json.dumps(body)
    text = cut(text.strip())
    return f"Status {status}" + (f": {text}" if text else "")


#: The proxy's message when the node answered 400 (protocol.md §12.3).
_NODE_REJECTED = "Bad Request"
_NODE_REJECTED_PREFIX = "Status 500: the node rejected the request (deterministic, not retried)"


def _node_rejected(status: int, body: Any) -> bool:
    if status != 500 or not isinstance(body, Mapping):
        return False
    error = body.get("error")
    message = error.get("message") if isinstance(error, Mapping) else error
    return isinstance(message, str) and message.strip() == _NODE_REJECTED


def reworded(error: APIError, message: str) -> APIError:
    """``error`` with a clearer message (same class, status, headers and body)."""
    return type(error)(
        message, error.raw_response, error.body, status_code=error.status_code, headers=error.headers
    )


def error_for_status(
    status_code: int,
    content: bytes,
    raw_response: httpx.Response | None = None,
    headers: Mapping[str, str] | None = None,
) -> APIError:
    """Build the typed :class:`APIError` for an error status and its body bytes."""
    body = _parse_body(content) if content else None
    if _node_rejected(status_code, body):
        return NodeRejectedError(
            f"{_NODE_REJECTED_PREFIX}: {_describe(status_code, body).removeprefix('Status 500: ')}",
            raw_response, body, status_code=status_code, headers=headers,
        )
    cls = _BY_STATUS.get(status_code) or (
        InternalServerError if status_code >= 500 else RedirectError if 300 <= status_code < 400 else APIError
    )
    if cls is RedirectError:
        message = f"Status {status_code}: the server redirected the request; redirects are not followed"
        return cls(message, raw_response, body, status_code=status_code, headers=headers)
    return cls(_describe(status_code, body), raw_response, body, status_code=status_code, headers=headers)


# --- Structured outputs and tools (atoma_sdk.structured) ----------------------------------------------


class _CompletionError(AtomaError):
    """An answer that verified but cannot be used; ``completion`` holds it (never pickled)."""

    def __init__(self, message: str, *, completion: Any = None) -> None:
        super().__init__(message)
        self.completion = completion

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,))


class LengthFinishReasonError(_CompletionError):
    """``parse()``: the answer hit the token limit (``finish_reason="length"``) before its JSON ended."""


class ContentFilterFinishReasonError(_CompletionError):
    """``parse()``: the answer was stopped by a content filter (``finish_reason="content_filter"``)."""


class StructuredOutputError(_CompletionError, ValueError):
    """``parse()``: the answer is not JSON valid for the requested type (locations and kinds, no values)."""


class ToolRunnerError(AtomaError):
    """``run_tools()`` cannot run: a policy without signature checks, an unknown tool, a bad argument."""


__all__ += [
    "ContentFilterFinishReasonError",
    "LengthFinishReasonError",
    "StructuredOutputError",
    "ToolRunnerError",
]
