"""What a confidential call verified: attached to every decrypted result (``result.receipt``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import IO, Any

__all__ = ["Receipt"]


@dataclass
class Receipt:
    """The verification record of one confidential call (complete once a stream has ended).

    Holds identifiers and verdicts only: no plaintext, ciphertext or key material beyond the node's
    public key, which the proxy hands out anyway.
    """

    operation: str
    model: str
    node_small_id: int | None = None
    stack_small_id: int | None = None
    stack_entry_digest: str | None = None
    node_public_key: str | None = None
    signer_address: str | None = None
    signature_scheme: str | None = None
    #: True once every response / chunk hash matched the locally computed BLAKE2b-256.
    response_hash_verified: bool = False
    #: True once every response / chunk signature verified over the local hash.
    signature_verified: bool = False
    #: True / False when signers are pinned; None when they are not.
    signer_pinned: bool | None = None
    #: "verified", "unauthenticated" (no attestation source configured) or "off" (failures raise).
    attestation: str = "unauthenticated"
    #: The verified attestation summary (per device: chain, nonce match, measurements digest).
    attestation_report: dict[str, Any] | None = None
    #: True when the node's key matched (or became) its pin; None without pins.
    key_pinned: bool | None = None
    streamed: bool = False
    #: "buffer" when a stream was served from one non-streamed request (confidential completions streams by
    #: default, or policy nonce_reuse="buffer"); None for a stream on the wire.
    stream_mode: str | None = None
    nonce_reuse: bool = False
    #: Chunks received (buffered: yielded).
    chunks: int = 0
    #: (chunk, choice) pairs that carried text, reasoning text or tool-call pieces (buffered: chunks yielded).
    content_chunks: int = 0
    completion_tokens: int | None = None
    #: True when ``content_chunks <= completion_tokens`` (what every honest stream satisfies); False when more
    #: chunks carried text than the node's signed count (duplication or replay); None when not checked
    #: (buffered delivery, ``echo=True``, ``chunk_count="off"``, or no usage).
    chunk_count_within_bound: bool | None = None
    complete: bool = False
    #: Passes through the call's retry loop, each with a new lock request (the pooled-lock fallback and the
    #: attestation re-lock are part of their pass).
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def write_jsonl(self, stream: IO[str]) -> None:
        """Append this receipt as one JSON line (an audit trail)."""
        stream.write(self.to_json() + "\n")
