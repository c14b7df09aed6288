"""The stream verifier against a node whose chunks leave keys out (no local node fault produces such chunks).

A key missing from a chunk (``usage``, ``finish_reason``) validates as UNSET, not None: neither may count as
the usage chunk or as the end of a choice, or a stream cut before its end would pass as complete.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from atoma_sdk import VerificationPolicy, errors
from atoma_sdk.confidential.envelope import ClientSession, NodeSession, b64e, body_hash
from atoma_sdk.confidential.flows import FLOWS
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.confidential.verify import AnswerVerifier, StreamVerifier

MODEL = "m"
HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def _pair() -> tuple[StreamVerifier, NodeSession]:
    key, request_hash = os.urandom(32), os.urandom(32)
    session = ClientSession(os.urandom(32), None, os.urandom(16))
    session._aead = AESGCM(key)  # the key the "node" below encrypts with
    session.request_hash = request_hash
    policy = VerificationPolicy(verify_signatures=False)
    verifier = AnswerVerifier(session, FLOWS["chat"], MODEL, policy, Receipt("op", MODEL))
    return StreamVerifier(verifier, token_limit=16), NodeSession(AESGCM(key), request_hash)


def _event(node: NodeSession, chunk: dict[str, Any]) -> str:
    plaintext = json.dumps(chunk).encode()
    ciphertext, nonce = node.encrypt(plaintext)
    return json.dumps({"ciphertext": ciphertext, "nonce": nonce, "response_hash": b64e(body_hash(plaintext))})


def _choice(content: str, **extra: Any) -> dict[str, Any]:
    return {"index": 0, "delta": {"content": content}, **extra}


def test_chunks_without_a_usage_key_are_no_usage_chunk() -> None:
    stream, node = _pair()
    stream.decode(_event(node, {**HEAD, "choices": [_choice("Hi")]}))
    stream.decode(_event(node, {**HEAD, "choices": [_choice("!", finish_reason="stop")]}))
    with pytest.raises(errors.StreamTruncatedError, match="usage chunk"):
        stream.finish()
    assert stream.usage is None


def test_a_choice_without_a_finish_reason_key_has_not_finished() -> None:
    stream, node = _pair()
    stream.decode(_event(node, {**HEAD, "choices": [_choice("Hi")]}))
    stream.decode(_event(node, {**HEAD, "choices": [], "usage": USAGE}))
    with pytest.raises(errors.StreamTruncatedError, match="every choice finished"):
        stream.finish()


def test_a_complete_stream_with_keys_left_out_passes() -> None:
    stream, node = _pair()
    stream.decode(_event(node, {**HEAD, "choices": [_choice("Hi")]}))
    stream.decode(_event(node, {**HEAD, "choices": [_choice("!", finish_reason="stop")]}))
    stream.decode(_event(node, {**HEAD, "choices": [], "usage": USAGE}))
    stream.finish()
    assert stream.receipt.complete and stream.usage.completion_tokens == 2
    assert stream.receipt.chunk_count_within_bound is True
