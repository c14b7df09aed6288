"""Checks on decrypted answers: pure functions and state, no I/O (sync and async share them).

Every failure is a typed :class:`~atoma_sdk.errors.ConfidentialError` whose message names what failed,
never what the answer said.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import pydantic

from .._runtime.jsonsafe import loads
from .._runtime.serde import describe_validation_error, parse_json, validator
from .._runtime.sse import ServerSentEvent
from .._runtime.warn import warn
from ..errors import (
    IntegrityError,
    MalformedResponseError,
    NonceReuseError,
    SignatureError,
    StreamTruncatedError,
)
from ..types import Unset
from . import sui
from .envelope import HASH_LEN, ClientSession, b64d, body_hash
from .flows import Flow
from .policy import ConfidentialityWarning, VerificationPolicy
from .receipt import Receipt

_compare_digest = hmac.compare_digest

__all__ = ["AnswerVerifier", "StreamVerifier", "carries_tokens"]


class AnswerVerifier:
    """Decrypts and verifies the answers (one response, or every chunk) of one confidential attempt."""

    __slots__ = ("_checker", "_hashed", "_signed", "flow", "model", "policy", "receipt", "session", "signer")

    def __init__(
        self, session: ClientSession, flow: Flow, model: str, policy: VerificationPolicy, receipt: Receipt
    ) -> None:
        self.session = session
        self.flow = flow
        self.model = model
        self.policy = policy
        self.receipt = receipt
        self.signer: sui.SuiSigner | None = None
        self._checker: sui.SignatureChecker | None = None  # created on the first signature
        self._hashed = True
        self._signed = True

    def open(self, answer: Mapping[str, Any]) -> bytes:
        """Decrypt one encrypted answer and check its hash, signature and signer; returns the plaintext."""
        ciphertext, nonce = answer.get("ciphertext"), answer.get("nonce")
        if not isinstance(ciphertext, str) or not isinstance(nonce, str):
            raise IntegrityError("an answer from the node is not encrypted")
        session = self.session
        plaintext = session.decrypt(ciphertext, nonce)
        digest = body_hash(plaintext)
        if _compare_digest(digest, session.request_hash):
            raise IntegrityError("the answer is the request reflected back")
        wire_hash = answer.get("response_hash")
        if wire_hash is None:
            self._no_hash()
        elif not _compare_digest(b64d(wire_hash, length=HASH_LEN, what="response hash"), digest):
            raise IntegrityError("the response hash does not match the decrypted answer")
        signature = answer.get("signature")
        if signature is None or not self.policy.verify_signatures:
            self._unsigned()
        else:
            signer, checker = self.signer, self._checker
            if signer is None or checker is None:
                self._first_signature(signature, digest)
            elif (seen := checker.verify(signature, digest)) is not signer and seen != signer:
                # (the checker hands back its cached signer: ``is`` decides without comparing keys)
                raise SignatureError("the answers of one request are signed by different keys")
        receipt = self.receipt
        receipt.response_hash_verified = self._hashed
        receipt.signature_verified = self._signed
        return plaintext

    def _no_hash(self) -> None:
        if self.policy.require_response_hash:
            raise IntegrityError("the answer carries no response hash")
        self._hashed = False

    def _unsigned(self) -> None:
        """An answer without a signature, or signatures not checked."""
        if self.policy.require_signature and self.policy.verify_signatures:
            raise SignatureError("the answer is not signed by its node")
        self._signed = False

    def _first_signature(self, signature: object, digest: bytes) -> None:
        """The first signature of a request: it decides the signer (pinned, if pins are given)."""
        checker = self._checker
        if checker is None:
            checker = self._checker = sui.SignatureChecker(self.policy.signature_schemes)
        signer = checker.verify(signature, digest)
        pinned = self.policy.pinned_signers
        if pinned is not None and signer.address not in pinned:
            self.receipt.signer_pinned = False
            raise SignatureError("the answer is signed by a node that is not pinned")
        self.signer = signer
        self.receipt.signer_address = signer.address
        self.receipt.signature_scheme = signer.scheme
        self.receipt.signer_pinned = None if pinned is None else True

    def parse(self, model_name: str, plaintext: bytes, *, item: str | None = None) -> Any:
        """Validate decrypted JSON with a model; IntegrityError if it does not match.

        ``item``: the stream item model the value is then wrapped in (as ``{"data": value}``). Validating
        the chunk alone and wrapping the model is cheaper than validating ``{"data": ...}`` from JSON: the
        item's before-validator would make pydantic build the whole chunk as Python data first.
        """
        try:
            value = parse_json(model_name, plaintext)
            if item is None:
                return value
            return _wrap(item, value)
        except pydantic.ValidationError as exc:
            detail = describe_validation_error(exc)
        except MalformedResponseError as exc:  # NaN, Infinity, a number beyond a float
            detail = exc.message
        # Raised outside the handler: there ``from None`` would still keep the pydantic error (and the
        # plaintext in its inputs) as ``__context__``.
        raise IntegrityError(f"the decrypted answer does not match {model_name}: {detail}") from None

    def check_identity(self, value: Any, expected_object: str | None) -> None:
        """The answer must be of the expected kind and for the requested model."""
        if expected_object is not None and getattr(value, "object", None) != expected_object:
            raise IntegrityError(f"the decrypted answer is not a {expected_object}")
        model = getattr(value, "model", None)
        if model is not None and model != self.model:
            raise IntegrityError("the decrypted answer is for another model than the request")

    def answer(self, body: bytes) -> Any:
        """A whole non-streamed response body: decrypt, verify and parse it into the flow's response model."""
        envelope = _json_value(body)
        if envelope is _NOT_JSON:
            raise IntegrityError("the node's response is not JSON") from None
        if not isinstance(envelope, dict):
            raise IntegrityError("the node's response is not a JSON object")
        result = self.parse(self.flow.response, self.open(envelope))
        self.check_identity(result, self.flow.response_object)
        self.receipt.complete = True
        return result


class StreamVerifier:
    """Decodes one confidential stream event by event, and decides at its end whether it was complete.

    ``token_limit``: the request's per-choice ``max_tokens`` / ``max_completion_tokens`` (None: not given);
    ``count_chunks=False`` exempts the stream from the chunk-count bound (completions with ``echo=True``).
    """

    def __init__(
        self, verifier: AnswerVerifier, *, token_limit: int | None = None, count_chunks: bool = True
    ) -> None:
        self.verifier = verifier
        self.receipt = verifier.receipt
        self.usage: Any = None
        self._nonces: set[str] = set()
        self._first_id: str | None = None
        self._finished: dict[int, bool] = {}
        self._done = False
        self._mode = verifier.policy.chunk_count if count_chunks else "off"
        self._token_limit = token_limit
        self._counted: dict[int, int] = {}
        self._over_limit = False

    def decode(self, data: str) -> Any:
        """One SSE ``data`` payload -> a stream item, or None for the usage chunk."""
        if self._done:
            raise IntegrityError("the stream sent data after its end marker")
        if data == "[DONE]":
            self._done = True
            return None
        envelope = _json_value(data)
        if envelope is _NOT_JSON:
            raise IntegrityError("a stream event is not JSON") from None
        if not isinstance(envelope, dict):
            raise IntegrityError("a stream event is not a JSON object")
        verifier = self.verifier
        plaintext = verifier.open(envelope)
        nonce = envelope["nonce"]
        if nonce in self._nonces:
            self._reused_nonce()
        else:
            self._nonces.add(nonce)
        flow = verifier.flow
        assert flow.stream_item is not None and flow.stream_chunk is not None
        item = verifier.parse(flow.stream_chunk, plaintext, item=flow.stream_item)
        chunk = item.data
        verifier.check_identity(chunk, flow.chunk_object)
        chunk_id = getattr(chunk, "id", None)
        if self._first_id is None:
            self._first_id = chunk_id
        elif chunk_id != self._first_id:
            raise IntegrityError("a chunk from another stream was spliced into this one")
        receipt = self.receipt
        receipt.chunks += 1
        usage = getattr(chunk, "usage", None)
        if usage is not None and not isinstance(usage, Unset):  # a chunk without the key carries no usage
            self.usage = usage
            receipt.completion_tokens = getattr(usage, "completion_tokens", None)
        choices = chunk.choices
        if not choices:
            return None
        finished = self._finished
        for choice in choices:
            index = int(getattr(choice, "index", 0) or 0)
            reason = getattr(choice, "finish_reason", None)  # null, or no key at all, does not end a choice
            finished[index] = finished.get(index, False) or isinstance(reason, str)
            if carries_tokens(choice):
                self._count(index)
        return item

    def decode_event(self, event: ServerSentEvent) -> Any:
        """:meth:`decode` of one event's data (the stream's decode function)."""
        return self.decode(event.data)

    def _count(self, index: int) -> None:
        """One more (chunk, choice) pair that carried tokens; past the request's limit: duplication."""
        self.receipt.content_chunks += 1
        count = self._counted[index] = self._counted.get(index, 0) + 1
        limit = self._token_limit
        if limit is not None and count > limit and not self._over_limit and self._mode != "off":
            self._over_limit = True
            self.receipt.chunk_count_within_bound = False
            self._chunk_count_failed(
                f"choice {index} of the stream had more chunks with text than the request's token limit "
                f"({limit}): chunks were duplicated or replayed"
            )

    def _reused_nonce(self) -> None:
        if not self.receipt.nonce_reuse:
            self.receipt.nonce_reuse = True
            self._on_nonce_reuse()

    def _on_nonce_reuse(self) -> None:
        mode = self.verifier.policy.nonce_reuse
        if mode == "raise":
            raise NonceReuseError("the node encrypted several chunks of this stream under one nonce")
        self.receipt.warnings.append("nonce-reuse")
        if mode == "warn":
            warn(
                "the node reused one AES-GCM nonce for the chunks of this stream: a party that sees the "
                "ciphertext can learn about the streamed text",
                ConfidentialityWarning,
                python="set VerificationPolicy(nonce_reuse='buffer') to avoid it, nonce_reuse='raise' to "
                "refuse such streams, or nonce_reuse='ignore' to accept them silently",
                cli="run with --nonce-reuse buffer to avoid it, or --nonce-reuse raise to refuse it",
            )

    def finish(self) -> None:
        """At the end of the body: raise StreamTruncatedError unless the answer is complete."""
        if not self._finished or not all(self._finished.values()):
            raise StreamTruncatedError("the stream ended before every choice finished")
        if self.usage is None:
            raise StreamTruncatedError("the stream ended before its usage chunk")
        self.receipt.complete = True
        self.check_chunk_count()

    def check_chunk_count(self) -> None:
        """Chunks with text must not outnumber the node's signed ``completion_tokens`` (protocol.md §12.2).

        Fewer is normal (multi-token chunks, the EOS token); more can only come from duplication or replay.
        """
        tokens = self.receipt.completion_tokens
        if self._mode == "off" or tokens is None or self._over_limit:
            return
        within = self.receipt.content_chunks <= tokens
        self.receipt.chunk_count_within_bound = within
        if not within:
            self._chunk_count_failed(
                f"the stream had {self.receipt.content_chunks} chunks with text for {tokens} signed "
                "completion tokens: chunks were duplicated or replayed"
            )

    def _chunk_count_failed(self, message: str) -> None:
        if self._mode == "raise":
            raise IntegrityError(message)
        self.receipt.warnings.append("chunk-count-exceeded")
        warn(
            message,
            ConfidentialityWarning,
            python="VerificationPolicy(chunk_count='raise') refuses such streams (the default)",
            cli="compare with the answer of a run without --stream",
        )


_NOT_JSON = object()

def _wrap(item: str, value: Any) -> Any:
    """The stream item ``item`` around a validated chunk: ``{"data": value}`` through the item's own
    validator."""
    return validator(item, "validate_python")({"data": value})


def _json_value(data: str | bytes) -> Any:
    """The JSON value, or ``_NOT_JSON`` for anything :func:`~atoma_sdk._runtime.jsonsafe.loads` rejects
    (nesting, invalid UTF-8, NaN, huge numbers); no decoder error, and no text, ends up in a chain."""
    try:
        return loads(data)
    except MalformedResponseError:
        return _NOT_JSON


def carries_tokens(choice: Any) -> bool:
    """Whether one choice of a chunk carries generated tokens: text, reasoning text or a tool-call piece."""
    delta = getattr(choice, "delta", None)
    if delta is None:
        return _text(getattr(choice, "text", None))
    # _text() spelled out for the two fields every chat chunk has (one call fewer each, per chunk)
    content = getattr(delta, "content", None)
    if isinstance(content, str) and content != "":
        return True
    reasoning = getattr(delta, "reasoning_content", None)
    if isinstance(reasoning, str) and reasoning != "":
        return True
    calls = getattr(delta, "tool_calls", None)
    if not isinstance(calls, list):
        return False
    for call in calls:
        function = getattr(call, "function", None)
        if _text(getattr(function, "name", None)) or _text(getattr(function, "arguments", None)):
            return True
    return False


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""
