"""Fuzz targets shared by the hypothesis tests and the optional atheris script (``scripts/fuzz-atheris``).

Each target takes bytes, and may raise only the typed errors it names; anything else is a crash.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from atoma_sdk import errors
from atoma_sdk._runtime.sse import SSEDecoder
from atoma_sdk.confidential import sui
from atoma_sdk.confidential.envelope import (
    ClientSession,
    NodeSession,
    b64d,
    b64e,
    body_hash,
    public_key_bytes,
)
from atoma_sdk.confidential.flows import FLOWS
from atoma_sdk.confidential.policy import VerificationPolicy
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.confidential.verify import AnswerVerifier, StreamVerifier
from atoma_sdk.local.config import CHAT_MODEL

NODE_KEY = X25519PrivateKey.generate()
SIGNER = sui.SuiKeyPair.generate()
POLICY = VerificationPolicy(nonce_reuse="ignore", check_chunk_count=False)


def sse_target(data: bytes, cuts: list[int]) -> None:
    """Feed ``data`` split at ``cuts`` to a small-limit decoder; only ResponseValidationError may escape."""
    decoder = SSEDecoder(max_event_bytes=256)
    start = 0
    try:
        for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
            for event in decoder.feed(data[start:cut]):
                assert isinstance(event.data, str)
            start = max(start, cut)
        decoder.finish()
    except errors.ResponseValidationError:
        pass


def _verifier() -> tuple[AnswerVerifier, NodeSession]:
    client = ClientSession.create(b64e(public_key_bytes(NODE_KEY)))
    node, _ = NodeSession.from_request(NODE_KEY, client.encrypt_request(b'{"model": "m"}'))
    receipt = Receipt(operation="fuzz", model=CHAT_MODEL)
    return AnswerVerifier(client, FLOWS["chat"], CHAT_MODEL, POLICY, receipt), node


def sealed(node: NodeSession, plaintext: bytes) -> str:
    """``plaintext`` validly encrypted, hashed and signed (so that the parsers behind it get fuzzed)."""
    ciphertext, nonce = node.encrypt(plaintext)
    digest = body_hash(plaintext)
    envelope = {"ciphertext": ciphertext, "nonce": nonce, "response_hash": b64e(digest)}
    envelope["signature"] = SIGNER.sign_hash(digest)
    return json.dumps(envelope)


def envelope_target(data: bytes) -> None:
    """A raw response body, and the same bytes as a sealed plaintext: only ConfidentialError may escape."""
    verifier, node = _verifier()
    for body in (data, sealed(node, data).encode()):
        with contextlib.suppress(errors.ConfidentialError):
            verifier.answer(body)


def stream_target(events: list[str], sealed_plaintexts: list[bytes]) -> None:
    """Raw and sealed stream events, then the end of the stream: only ConfidentialError may escape."""
    verifier, node = _verifier()
    stream = StreamVerifier(verifier)
    try:
        for data in [*events, *(sealed(node, p) for p in sealed_plaintexts)]:
            stream.decode(data)
        stream.finish()
    except errors.ConfidentialError:
        pass


def primitives_target(text: str) -> None:
    """Strict base64 and Sui signature parsing."""
    with contextlib.suppress(errors.IntegrityError):
        b64d(text, what="fuzz")
    with contextlib.suppress(errors.SignatureError):
        sui.verify(text, bytes(32))
    with contextlib.suppress(errors.ConfidentialError):
        ClientSession.create(text)


def any_json(value: Any) -> bytes:
    return json.dumps(value).encode()
