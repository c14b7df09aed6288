"""The confidential side of the node: the outer request, sealed answers and sealed SSE streams."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio.lowlevel

from ..confidential.envelope import NONCE_LEN, NodeSession, b64d, b64e
from .faults import FaultPlan
from .state import NodeState
from .wire import dumps, event

_STRING_FIELDS = (
    "ciphertext",
    "client_dh_public_key",
    "model_name",
    "node_dh_public_key",
    "nonce",
    "plaintext_body_hash",
    "salt",
)


class OuterRequestError(Exception):
    """The outer ``ConfidentialComputeRequest`` does not parse (a proxy 400); names fields, never values."""


class InjectedDisconnect(Exception):
    """Raised inside a stream body by the ``drop`` fault, so the server aborts the connection."""


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_outer(raw: bytes) -> dict[str, Any]:
    """Parse and type-check the outer request as the proxy's serde would."""
    prefix = "Failed to parse body as JSON: "
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise OuterRequestError(prefix + "invalid JSON") from None
    if not isinstance(value, dict):
        raise OuterRequestError(prefix + "expected an object")
    for name in _STRING_FIELDS:
        if not isinstance(value.get(name), str):
            raise OuterRequestError(prefix + f"missing or invalid field `{name}`")
    if not _is_uint(value.get("stack_small_id")):
        raise OuterRequestError(prefix + "missing or invalid field `stack_small_id`")
    if value.get("num_compute_units") is not None and not _is_uint(value["num_compute_units"]):
        raise OuterRequestError(prefix + "invalid field `num_compute_units`")
    if value.get("stream") is not None and not isinstance(value["stream"], bool):
        raise OuterRequestError(prefix + "invalid field `stream`")
    return value


def _flip(ciphertext_b64: str) -> str:
    raw = bytearray(b64d(ciphertext_b64, what="ciphertext"))
    raw[0] ^= 0x01
    return b64e(bytes(raw))


class Sealer:
    """Encrypts and signs one request's answer: a whole response, or the chunks of one stream."""

    def __init__(self, state: NodeState, session: NodeSession) -> None:
        self._state = state
        self._session = session
        config = state.config
        fixed = config.response_nonce
        self._fixed = fixed
        # Real nodes draw ONE nonce per stream and reuse it for every chunk (protocol.md §3).
        self._stream_nonce = (
            fixed if fixed is not None else (None if config.unique_chunk_nonces else os.urandom(NONCE_LEN))
        )

    def response(
        self, plaintext: bytes, usage: Any, *, with_usage: bool = True, corrupt: bool = False
    ) -> dict[str, Any]:
        """A non-streamed ``ConfidentialComputeResponse`` (node key order; no ``usage`` key for images)."""
        ciphertext, nonce = self._session.encrypt(plaintext, self._fixed)
        response_hash, signature = self._state.sign(plaintext)
        body = {
            "nonce": nonce,
            "ciphertext": _flip(ciphertext) if corrupt else ciphertext,
            "response_hash": response_hash,
            "signature": signature,
        }
        if with_usage:
            body["usage"] = usage
        return body

    def chunk(self, plaintext: bytes, usage: Any, *, corrupt: bool = False) -> dict[str, Any]:
        """One stream chunk: ``ciphertext, nonce, [usage], signature, response_hash``."""
        ciphertext, nonce = self._session.encrypt(plaintext, self._stream_nonce)
        response_hash, signature = self._state.sign(plaintext)
        body: dict[str, Any] = {"ciphertext": _flip(ciphertext) if corrupt else ciphertext, "nonce": nonce}
        if usage is not None:
            body["usage"] = usage
        body["signature"] = signature
        body["response_hash"] = response_hash
        return body


async def sealed_events(
    source: AsyncIterator[dict[str, Any]], sealer: Sealer, plan: FaultPlan, *, deliver: bool = True
) -> AsyncIterator[bytes]:
    """The SSE body of a confidential stream: bare ``data:`` objects, no ``[DONE]`` (keep-alives are the
    response's). ``deliver=False`` plays the proxy's completions-stream bug (protocol.md §12.1): every chunk
    is generated, sealed and then dropped, so the client sees only keep-alives and the end of the body."""
    usage: Any = None
    index = 0
    try:
        async for chunk in source:
            if plan.truncate_after is not None and index >= plan.truncate_after:
                return
            if plan.drop_after is not None and index >= plan.drop_after:
                raise InjectedDisconnect
            plaintext = dumps(chunk)
            if chunk.get("usage") is not None:
                usage = chunk["usage"]  # sticky, as the node copies it onto every later chunk
            if index == plan.plaintext_index:
                data = event(plaintext)
            else:
                data = event(dumps(sealer.chunk(plaintext, usage, corrupt=index == plan.corrupt_index)))
            if deliver:
                yield data
            index += 1
            # Let the loop run between events: other streams get their turn, and a client that went
            # away is noticed (the response is cancelled instead of writing into a dead socket).
            await anyio.lowlevel.checkpoint()
        if plan.drop_after is not None:
            raise InjectedDisconnect
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


def reflected(state: NodeState, outer: dict[str, Any]) -> dict[str, Any]:
    """The request's own ciphertext as an answer, validly signed over its own hash (a reflection attack)."""
    body_hash = b64d(outer["plaintext_body_hash"], what="body hash")
    return {
        "ciphertext": outer["ciphertext"],
        "nonce": outer["nonce"],
        "signature": state.signer.sign_hash(body_hash),
        "response_hash": outer["plaintext_body_hash"],
    }
