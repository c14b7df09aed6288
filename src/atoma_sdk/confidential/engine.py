"""One confidential call: lock -> encrypt -> send -> decrypt -> verify, retried as a whole unit.

A retry takes a new lock, client key, salt, nonce and ciphertext (an old ciphertext is never re-sent)
and counts against the same retry budget. Streams retry only before their first chunk reached the
caller. The sync and async shells share every decision made here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import errors
from .._runtime.operation import Operation, RequestOptions, RetryRule
from .._runtime.retrying import RetryState
from .._runtime.serde import encode_request, resolve
from ..nodes import Nodes
from .attest import NONCE_MISMATCH, AttestationGate
from .envelope import ClientSession
from .flows import Flow
from .plaintext import prepare
from .policy import VerificationPolicy
from .receipt import Receipt
from .stream import ConfidentialStream, ConfidentialStreamAsync
from .verify import AnswerVerifier, StreamVerifier

__all__ = ["ConfidentialCall"]


@dataclass
class _Attempt:
    verifier: AnswerVerifier
    body: bytes


class ConfidentialCall:
    """Everything one confidential call needs, prepared once; attempts are made from it."""

    def __init__(
        self,
        runtime: Any,
        op: Operation[Any],
        flow: Flow,
        params: Mapping[str, Any],
        options: RequestOptions,
        policy: VerificationPolicy,
        *,
        stream: bool,
        num_compute_units: int | None,
    ) -> None:
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise TypeError("a confidential call needs model=<model name>")
        self.runtime = runtime
        self.op = op
        self.flow = flow
        self.model = model
        self.options = options
        self.policy = policy
        self.buffered = stream and policy.nonce_reuse == "buffer"
        self.wire_stream = stream and not self.buffered
        self.units = flow.compute_units(params, num_compute_units)
        request_model = flow.plaintext_stream_request if self.wire_stream else flow.plaintext_request
        assert request_model is not None
        body_params = dict(params)
        if flow.plaintext_stream_request is not None:
            body_params["stream"] = self.wire_stream
        plaintext = encode_request(request_model, body_params, options.extra_body)
        assert plaintext is not None
        self.plaintext = plaintext
        self._lock_options = RequestOptions(
            retries=None,
            server_url=options.server_url,
            timeout_ms=options.timeout_ms,
            http_headers=options.http_headers,
        )
        self._send_options = RequestOptions(
            retries=None,
            server_url=options.server_url,
            timeout_ms=options.timeout_ms,
            http_headers=options.http_headers,
        )
        self.nodes = Nodes(runtime)
        self.gate = AttestationGate(policy)
        self.attempts = 0

    # -- shared steps --

    def _lock_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model}
        if self.units is not None:
            params["max_num_tokens"] = self.units
        return params

    def _receipt(self, lock: Any) -> Receipt:
        self.attempts += 1
        return Receipt(
            operation=self.op.operation_id,
            model=self.model,
            node_small_id=lock.node_small_id,
            stack_small_id=lock.stack_small_id,
            stack_entry_digest=lock.stack_entry_digest,
            node_public_key=lock.public_key,
            streamed=self.wire_stream or self.buffered,
            stream_mode="buffer" if self.buffered else None,
            attempts=self.attempts,
        )

    @staticmethod
    def _relock(exc: errors.AttestationError, relocked: bool) -> bool:
        """A nonce mismatch may be a key-rotation race: lock again once before failing."""
        if relocked or exc.reason != NONCE_MISMATCH:
            raise exc
        return True

    def _seal(self, lock: Any, receipt: Receipt) -> _Attempt:
        """Encrypt the request to the locked (and attested) node with a fresh key, salt and nonce."""
        session = ClientSession.create(lock.public_key)
        plaintext = prepare(
            self.plaintext, randomize=self.policy.randomize_plaintext, pad_to=self.policy.pad_to
        )
        wire: dict[str, Any] = session.encrypt_request(plaintext)
        wire["model_name"] = self.model
        wire["stack_small_id"] = lock.stack_small_id
        if self.units is not None:
            wire["num_compute_units"] = self.units
        wire["stream"] = self.wire_stream
        body = json.dumps(wire, separators=(",", ":")).encode("ascii")
        return _Attempt(AnswerVerifier(session, self.flow, self.model, self.policy, receipt), body)

    def _outcome(self, attempt: _Attempt, response: Any, stream_cls: type[Any]) -> Any:
        """The verified result, a buffered stream, or a live stream that still needs its prefetch."""
        if not self.wire_stream:
            result = attempt.verifier.answer(response.content)
            result._atoma_receipt = attempt.verifier.receipt
            if self.buffered:
                return self._buffered_stream(attempt, result, response, stream_cls)
            return result
        return stream_cls(
            response,
            StreamVerifier(attempt.verifier),
            attempt.verifier.receipt,
            idle_timeout=self.runtime.config.stream_idle_timeout_s,
        )

    def retry_state(self) -> RetryState:
        """Whole-unit retries: 423, 425, 429, 5XX and transport errors, each with a brand-new unit.

        A transport error counts as "not sent" for the unit: its ciphertext is never sent again.
        """
        state: RetryState = self.runtime.retry_state(self.op, self.options, rule=RetryRule.WHOLE_UNIT)
        return state

    @staticmethod
    def delay(state: RetryState, exc: errors.AtomaError) -> float | None:
        """How long to wait before a new unit after ``exc``; None: give up."""
        return state.delay_for_exception(
            exc, sent=False if isinstance(exc, errors.APIConnectionError) else None
        )

    def _stream_item_model(self) -> str:
        assert self.flow.stream_item is not None
        return self.flow.stream_item

    def _buffered_stream(self, attempt: _Attempt, result: Any, response: Any, cls: type[Any]) -> Any:
        """Serve a stream from a verified non-streamed answer (policy nonce_reuse='buffer')."""
        item_model: Any = resolve(self._stream_item_model())
        items = [item_model.model_validate({"data": chunk}) for chunk in _as_chunks(result)]
        receipt = attempt.verifier.receipt
        receipt.chunks = len(items)
        receipt.content_chunks = len(items)
        return cls(response, None, receipt, buffered=items, usage=getattr(result, "usage", None))

    # -- sync shell --

    def run(self) -> Any:
        state = self.retry_state()
        while True:
            try:
                return self._attempt()
            except (errors.APIError, errors.APIConnectionError) as exc:
                delay = self.delay(state, exc)
                if delay is None:
                    raise
            state.sleep(delay)

    def _attempt(self) -> Any:
        relocked = False
        while True:
            lock = self.nodes.nodes_create_lock(**self._lock_params(), **_opts(self._lock_options))
            receipt = self._receipt(lock)
            try:
                self.gate.check(lock, receipt)
                break
            except errors.AttestationError as exc:
                relocked = self._relock(exc, relocked)
        attempt = self._seal(lock, receipt)
        response = self.runtime.send(
            self.op, attempt.body, self._send_options, stream=self.wire_stream, retry=False
        )
        outcome = self._outcome(attempt, response, ConfidentialStream)
        if self.wire_stream:
            try:
                outcome.prefetch()
            except BaseException:
                outcome.close()
                raise
        return outcome

    # -- async shell --

    async def run_async(self) -> Any:
        state = self.retry_state()
        while True:
            try:
                return await self._attempt_async()
            except (errors.APIError, errors.APIConnectionError) as exc:
                delay = self.delay(state, exc)
                if delay is None:
                    raise
            await state.async_sleep(delay)

    async def _attempt_async(self) -> Any:
        relocked = False
        while True:
            lock = await self.nodes.nodes_create_lock_async(
                **self._lock_params(), **_opts(self._lock_options)
            )
            receipt = self._receipt(lock)
            try:
                await self.gate.check_async(lock, receipt)
                break
            except errors.AttestationError as exc:
                relocked = self._relock(exc, relocked)
        attempt = self._seal(lock, receipt)
        response = await self.runtime.send_async(
            self.op, attempt.body, self._send_options, stream=self.wire_stream, retry=False
        )
        outcome = self._outcome(attempt, response, ConfidentialStreamAsync)
        if self.wire_stream:
            try:
                await outcome.prefetch()
            except BaseException:
                await outcome.aclose()
                raise
        return outcome


def _opts(options: RequestOptions) -> dict[str, Any]:
    return {
        "retries": options.retries,
        "server_url": options.server_url,
        "timeout_ms": options.timeout_ms,
        "http_headers": options.http_headers,
    }


def _as_chunks(result: Any) -> list[dict[str, Any]]:
    """A chat or text completion as one chunk per choice (the whole answer in each delta)."""
    chunks: list[dict[str, Any]] = []
    for choice in result.choices:
        message = getattr(choice, "message", None)
        if message is not None:
            body: dict[str, Any] = {"delta": message.model_dump(mode="json", exclude_none=True)}
        else:
            body = {"text": getattr(choice, "text", "")}
        chunks.append(
            {
                "id": result.id,
                "object": "chat.completion.chunk" if message is not None else "text_completion",
                "created": result.created,
                "model": result.model,
                "choices": [{"index": choice.index, **body, "finish_reason": choice.finish_reason}],
            }
        )
    return chunks
