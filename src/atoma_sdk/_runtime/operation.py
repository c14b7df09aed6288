"""What a generated method hands to the runtime: an operation descriptor and per-call options.

Generated resource modules define one public module-level :class:`Operation` per API operation
(``CREATE``, ``CREATE_STREAM``, ...) and call ``self._runtime.call(op, params, options)`` (or ``stream`` /
``call_async`` / ``stream_async``). Models are named, not imported, so touching a resource builds no
pydantic class. This module imports nothing else of the runtime (``core`` and ``retrying`` import it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..types import UNSET, OptionalNullable

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


# No slots: ``Operation[Model](...)`` sets ``__orig_class__``, which a slotted frozen dataclass turns into a
# TypeError on Python < 3.12 (without slots the attempt fails quietly, as typing expects).
@dataclass(frozen=True)
class Operation(Generic[T]):
    """One API operation. ``T`` is the response model (or the stream item model for SSE operations)."""

    operation_id: str
    method: str
    #: Path without any ``#fragment`` (the spec's ``...#stream`` variants hit the same path).
    path: str
    #: Name of the request body model in ``atoma_sdk.models`` (None: no body).
    request: str | None = None
    #: Name of the 2XX response model (JSON) or the SSE item model (``stream=True``).
    response: str | None = None
    stream: bool = False
    #: SSE sentinel data that ends the stream (e.g. ``"[DONE]"``).
    sentinel: str | None = None
    #: Whether the operation sends ``Authorization: Bearer``.
    security: bool = True
    retry_rule: RetryRule = RetryRule.DEFAULT
    #: For confidential operations: the name of the plaintext flow in ``atoma_sdk.confidential``
    #: (``"chat"``, ``"completions"``, ``"embeddings"``, ``"images"``); None otherwise.
    confidential: str | None = None


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call options every generated method accepts."""

    retries: OptionalNullable[RetryConfig] = UNSET
    server_url: str | None = None
    timeout_ms: int | None = None
    http_headers: Mapping[str, str] | None = None
    extra_body: Mapping[str, Any] | None = None

