"""One confidential call: lock -> encrypt -> send -> decrypt -> verify, retried as a whole unit.

A retry takes a new lock, client key, salt, nonce and ciphertext (an old ciphertext is never re-sent)
and counts against the same retry budget. Streams retry only before their first chunk reached the
caller. A buffered stream (confidential completions by default, or ``nonce_reuse="buffer"``) is one
non-streamed request per attempt whose verified answer is yielded as chunks: never a second request
after a 2XX. The sync and async shells share every decision made here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import errors
from .._runtime import deadline
from .._runtime.logs import unit_attempt
from .._runtime.operation import Operation, RequestOptions, RetryRule
from .._runtime.retrying import RetryState
from .._runtime.serde import encode_request, resolve
from ..nodes import Nodes
from .attest import NONCE_MISMATCH, AttestationGate
from .envelope import ClientSession
from .flows import Flow
from .lockpool import PoolKey, Ticket, pool_for
from .notices import warn_weakened
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
        warn_weakened(runtime, policy)
        self.runtime = runtime
        self.op = op
        self.flow = flow
        self.model = model
        self.options = options
        self.policy = policy
        self.buffered = stream and _buffers(flow, policy)
        self.wire_stream = stream and not self.buffered
        self.units = flow.compute_units(params, num_compute_units)
        request_model = flow.plaintext_stream_request if self.wire_stream else flow.plaintext_request
        assert request_model is not None
        body_params = dict(params)
        extra_body = options.extra_body
        if flow.plaintext_stream_request is not None:
            body_params["stream"] = self.wire_stream
        if not self.wire_stream:
            # vLLM rejects stream_options without stream (the client would see 500 "Bad Request").
            body_params.pop("stream_options", None)
            if isinstance(extra_body, Mapping) and "stream_options" in extra_body:
                extra_body = {k: v for k, v in extra_body.items() if k != "stream_options"}
        #: The per-choice token limit and whether the chunk-count bound applies (streams on the wire).
        self.token_limit = _token_limit(params, extra_body)
        self.count_chunks = not (flow.name == "completions" and _echo(params, extra_body))
        plaintext = encode_request(request_model, body_params, extra_body)
        assert plaintext is not None
        self.plaintext = plaintext
        # The unit's own requests never retry (the whole unit does) and carry no extra_body.
        self._send_options = RequestOptions(
            retries=None,
            server_url=options.server_url,
            timeout_ms=options.timeout_ms,
            http_headers=options.http_headers,
        )
        self._lock_kwargs: dict[str, Any] = {
            "model": model,
            "retries": None,
            "server_url": options.server_url,
            "timeout_ms": options.timeout_ms,
            "http_headers": options.http_headers,
        }
        if self.units is not None:
            self._lock_kwargs["max_num_tokens"] = self.units
        self.nodes = Nodes(runtime)
        self.gate = AttestationGate(policy)
        self.attempts = 0
        #: Lock prefetch (None when off): the first attempt may use a pooled lock of exactly this size.
        self.pool = pool_for(runtime)
        self._pool_key: PoolKey | None = None
        self._ticket: Ticket | None = None
        self._locked = False

    @property
    def pool_key(self) -> PoolKey:
        """The pool key of this call (made on first use: only a call with a pool needs it)."""
        key = self._pool_key
        if key is None:
            key = self._pool_key = PoolKey.for_call(self.model, self.units, self.options)
        return key

    # -- shared steps --

    def _pool_begin(self, *, is_async: bool) -> None:
        """A call starts: take a ready pooled lock, if any, and top the pool up."""
        if self.pool is not None:
            self._ticket, count = self.pool.begin(self.pool_key, is_async=is_async)
            self._refill(count, is_async=is_async)

    def _pool_end(self, *, is_async: bool) -> None:
        """A call completed: top the pool up (never before a call for this key got a lock)."""
        if self.pool is not None:
            self._refill(self.pool.end(self.pool_key, locked=self._locked), is_async=is_async)

    def _refill(self, count: int, *, is_async: bool) -> None:
        if self.pool is not None and count:
            refill = self.pool.refill_async if is_async else self.pool.refill
            refill(self.pool_key, count)

    def _take_ticket(self) -> Ticket | None:
        """The call's pool ticket, for its first attempt only."""
        ticket, self._ticket = self._ticket, None
        return ticket

    def _lock_failed(self) -> None:
        if self.pool is not None:
            self.pool.lock_failed(self.pool_key, prefetched=False)

    def _got_lock(self, lock: Any) -> Any:
        self._locked = True
        if self.pool is not None:
            self.pool.observed(self.pool_key, lock, prefetched=False)
        return lock

    def _fresh_after_pooled(self, exc: errors.AtomaError) -> bool:
        """A pooled lock's request failed: drop the pool; True to try once more, with a fresh lock, at once.

        That retry is part of the same attempt: it does not use up the call's retry budget.
        """
        return self.pool is not None and self.pool.pooled_failed(self.pool_key, exc)

    def _pooled_ok(self) -> None:
        if self.pool is not None:
            self.pool.pooled_succeeded(self.pool_key)

    def _receipt(self, lock: Any) -> Receipt:
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
        return _Attempt(self.new_verifier(session, receipt), body)

    def new_verifier(self, session: ClientSession, receipt: Receipt) -> AnswerVerifier:
        """The verifier of one attempt's answers (a seam: subclasses may record what it verified)."""
        return AnswerVerifier(session, self.flow, self.model, self.policy, receipt)

    def _outcome(self, attempt: _Attempt, response: Any, stream_cls: type[Any]) -> Any:
        """The verified result, a buffered stream, or a live stream that still needs its prefetch."""
        if not self.wire_stream:
            result = attempt.verifier.answer(response.content)
            result._atoma_receipt = attempt.verifier.receipt
            if self.buffered:
                return self._buffered_stream(attempt, result, response, stream_cls)
            return result
        verifier = StreamVerifier(
            attempt.verifier, token_limit=self.token_limit, count_chunks=self.count_chunks
        )
        return stream_cls(
            response,
            verifier,
            attempt.verifier.receipt,
            **self.runtime.stream_settings(self.op),
        )

    def retry_state(self) -> RetryState:
        """Whole-unit retries: 423, 425, 429, 5XX and transport errors, each with a brand-new unit.

        A transport error counts as "not sent" for the unit: its ciphertext is never sent again.
        """
        state: RetryState = self.runtime.retry_state(self.op, self.options, rule=RetryRule.WHOLE_UNIT)
        return state

    def delay(self, state: RetryState, exc: errors.AtomaError) -> float | None:
        """How long to wait before a new unit after ``exc``; None: give up (logged with its cause)."""
        delay = state.delay_for_exception(
            exc, sent=False if isinstance(exc, errors.APIConnectionError) else None
        )
        if delay is not None:
            self.runtime.log.retry(self.op.operation_id, state.attempt, exc, delay)
        return delay

    def _pass(self, state: RetryState) -> Any:
        """One pass through the retry loop: a new lock request, whether or not it succeeds."""
        self.attempts = state.attempt
        return unit_attempt(state.attempt)

    def _lock_error(self, exc: errors.AtomaError) -> errors.AtomaError:
        """A lock failure that names what went wrong (the proxy's own words are generic)."""
        if isinstance(exc, errors.ServiceUnavailableError):
            return errors.reworded(
                exc,
                f"no node serves model {self.model!r} with confidential compute right now ({exc.message})",
            )
        if isinstance(exc, errors.PaymentRequiredError):
            units = f"{self.units} compute units" if self.units is not None else "this request"
            return errors.reworded(
                exc, f"the account's balance is too short to lock {units} for {self.model!r} ({exc.message})"
            )
        return exc

    def _stream_item_model(self) -> str:
        assert self.flow.stream_item is not None
        return self.flow.stream_item

    def _buffered_stream(self, attempt: _Attempt, result: Any, response: Any, cls: type[Any]) -> Any:
        """Serve a stream from a verified non-streamed answer (policy nonce_reuse='buffer')."""
        item_model: Any = resolve(self._stream_item_model())
        items = [item_model.model_validate({"data": chunk}) for chunk in _as_chunks(result)]
        receipt = attempt.verifier.receipt
        receipt.stream_mode = "buffer"
        receipt.chunks = len(items)
        receipt.content_chunks = len(items)
        usage = getattr(result, "usage", None)
        receipt.completion_tokens = getattr(usage, "completion_tokens", None)
        return cls(response, None, receipt, buffered=items, usage=usage)

    # -- sync shell --

    def run(self) -> Any:
        state = self.retry_state()
        self._pool_begin(is_async=False)
        try:
            while True:
                try:
                    # one unit (lock + send + read), one deadline
                    with self._pass(state), deadline.scope(self.runtime.attempt_seconds(self.options)):
                        return self._attempt()
                except (errors.APIError, errors.APIConnectionError) as exc:
                    delay = self.delay(state, exc)
                    if delay is None:
                        raise
                state.sleep(delay)
        finally:
            self._pool_end(is_async=False)

    def _attempt(self) -> Any:
        ticket = self._take_ticket()
        lease = ticket.take() if ticket is not None else None
        if lease is None:
            return self._attempt_with(None)
        try:
            result = self._attempt_with(lease.lock)
        except (errors.APIError, errors.APIConnectionError) as exc:
            if not self._fresh_after_pooled(exc):
                raise
            return self._attempt_with(None)
        self._pooled_ok()
        return result

    def _fresh_lock(self) -> Any:
        try:
            lock = self.nodes.nodes_create_lock(**self._lock_kwargs)
        except errors.AtomaError as exc:
            self._lock_failed()
            raise self._lock_error(exc) from exc.__cause__
        return self._got_lock(lock)

    def _attempt_with(self, pooled: Any) -> Any:
        relocked = False
        lock = pooled
        while True:
            if lock is None:
                lock = self._fresh_lock()
            receipt = self._receipt(lock)
            try:
                self.gate.check(lock, receipt)
                break
            except errors.AttestationError as exc:
                relocked = self._relock(exc, relocked)
                lock = None
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
        self._pool_begin(is_async=True)
        try:
            while True:
                try:
                    # one unit (lock + send + read), one deadline
                    with self._pass(state), deadline.scope(self.runtime.attempt_seconds(self.options)):
                        return await self._attempt_async()
                except (errors.APIError, errors.APIConnectionError) as exc:
                    delay = self.delay(state, exc)
                    if delay is None:
                        raise
                await state.async_sleep(delay)
        finally:
            self._pool_end(is_async=True)

    async def _attempt_async(self) -> Any:
        ticket = self._take_ticket()
        lease = await ticket.take_async() if ticket is not None else None
        if lease is None:
            return await self._attempt_with_async(None)
        try:
            result = await self._attempt_with_async(lease.lock)
        except (errors.APIError, errors.APIConnectionError) as exc:
            if not self._fresh_after_pooled(exc):
                raise
            return await self._attempt_with_async(None)
        self._pooled_ok()
        return result

    async def _fresh_lock_async(self) -> Any:
        try:
            lock = await self.nodes.nodes_create_lock_async(**self._lock_kwargs)
        except errors.AtomaError as exc:
            self._lock_failed()
            raise self._lock_error(exc) from exc.__cause__
        return self._got_lock(lock)

    async def _attempt_with_async(self, pooled: Any) -> Any:
        relocked = False
        lock = pooled
        while True:
            if lock is None:
                lock = await self._fresh_lock_async()
            receipt = self._receipt(lock)
            try:
                await self.gate.check_async(lock, receipt)
                break
            except errors.AttestationError as exc:
                relocked = self._relock(exc, relocked)
                lock = None
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


def _buffers(flow: Flow, policy: VerificationPolicy) -> bool:
    """Whether a stream of ``flow`` is served from one non-streamed request (protocol.md §12.1)."""
    if policy.nonce_reuse == "buffer":
        return True
    return flow.name == "completions" and policy.completions_stream == "buffer"


def _token_limit(params: Mapping[str, Any], extra: Any) -> int | None:
    """The per-choice token limit: the largest of ``max_tokens`` / ``max_completion_tokens`` given."""
    values = [
        value
        for source in (params, extra if isinstance(extra, Mapping) else {})
        for name in ("max_tokens", "max_completion_tokens")
        if isinstance(value := source.get(name), int) and not isinstance(value, bool) and value > 0
    ]
    return max(values) if values else None


def _echo(params: Mapping[str, Any], extra: Any) -> bool:
    return params.get("echo") is True or (isinstance(extra, Mapping) and extra.get("echo") is True)


def _as_chunks(result: Any) -> list[dict[str, Any]]:
    """A chat or text completion as one chunk per choice (the whole answer in each delta)."""
    chunks: list[dict[str, Any]] = []
    for choice in result.choices:
        message = getattr(choice, "message", None)
        if message is not None:
            body: dict[str, Any] = {"delta": message.model_dump(mode="json", exclude_none=True)}
            for index, call in enumerate(body["delta"].get("tool_calls") or []):
                call["index"] = index  # a delta's tool calls carry their position
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
