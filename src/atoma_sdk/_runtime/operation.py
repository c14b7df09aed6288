"""What a generated method hands to the runtime: an operation descriptor and per-call options.

Generated resource modules define one public module-level :class:`Operation` per API operation
(``CREATE``, ``CREATE_STREAM``, ...) and call ``self._runtime.call(op, params, options)`` (or ``stream`` /
``call_async`` / ``stream_async``). Models are named, not imported, so touching a resource builds no
pydantic class. This module imports nothing else of the runtime (``core`` and ``retrying`` import it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..types import UNSET, OptionalNullable
from .record import FrozenRecord, set_field

if TYPE_CHECKING:
    from ..utils.retries import RetryConfig

T = TypeVar("T")


class RetryRule(enum.Enum):
    """Which failures an operation may retry."""

    #: 408, 409, 429, 5XX, transport errors and timeouts (the default for idempotent-enough calls).
    DEFAULT = "default"
    #: Only failures where the request provably never reached the server (connection refused,
    #: connect timeout). Raw confidential requests: the proxy consumes the lock on arrival.
    NOT_SENT_ONLY = "not-sent-only"
    #: A confidential call retried as a whole unit (new lock, key and ciphertext): DEFAULT plus 423 and
    #: 425 (a locked stack, a lock that expired or was consumed).
    WHOLE_UNIT = "whole-unit"


class Operation(FrozenRecord, Generic[T]):
    """One API operation. ``T`` is the response model (or the stream item model for SSE operations)."""

    __slots__ = (
        "confidential",
        "method",
        "operation_id",
        "path",
        "request",
        "response",
        "retry_rule",
        "security",
        "sentinel",
        "stream",
    )
    operation_id: str
    method: str
    #: Path without any ``#fragment`` (the spec's ``...#stream`` variants hit the same path).
    path: str
    #: Name of the request body model in ``atoma_sdk.models`` (None: no body).
    request: str | None
    #: Name of the 2XX response model (JSON) or the SSE item model (``stream=True``).
    response: str | None
    stream: bool
    #: SSE sentinel data that ends the stream (e.g. ``"[DONE]"``).
    sentinel: str | None
    #: Whether the operation sends ``Authorization: Bearer``.
    security: bool
    retry_rule: RetryRule
    #: For confidential operations: the name of the plaintext flow in ``atoma_sdk.confidential``
    #: (``"chat"``, ``"completions"``, ``"embeddings"``, ``"images"``); None otherwise.
    confidential: str | None

    def __init__(
        self,
        operation_id: str,
        method: str,
        path: str,
        request: str | None = None,
        response: str | None = None,
        stream: bool = False,
        sentinel: str | None = None,
        security: bool = True,
        retry_rule: RetryRule = RetryRule.DEFAULT,
        confidential: str | None = None,
    ) -> None:
        set_field(self, "operation_id", operation_id)
        set_field(self, "method", method)
        set_field(self, "path", path)
        set_field(self, "request", request)
        set_field(self, "response", response)
        set_field(self, "stream", stream)
        set_field(self, "sentinel", sentinel)
        set_field(self, "security", security)
        set_field(self, "retry_rule", retry_rule)
        set_field(self, "confidential", confidential)


class RequestOptions(FrozenRecord):
    """Per-call options every generated method accepts."""

    __slots__ = ("extra_body", "http_headers", "retries", "server_url", "timeout_ms")
    retries: OptionalNullable[RetryConfig]
    server_url: str | None
    timeout_ms: int | None
    http_headers: Mapping[str, str] | None
    extra_body: Mapping[str, Any] | None

    def __init__(
        self,
        retries: OptionalNullable[RetryConfig] = UNSET,
        server_url: str | None = None,
        timeout_ms: int | None = None,
        http_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        set_field(self, "retries", retries)
        set_field(self, "server_url", server_url)
        set_field(self, "timeout_ms", timeout_ms)
        set_field(self, "http_headers", http_headers)
        set_field(self, "extra_body", extra_body)
