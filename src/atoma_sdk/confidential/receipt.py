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
    #: "buffer" when a stream was served from a non-streamed request (policy nonce_reuse="buffer").
    stream_mode: str | None = None
    nonce_reuse: bool = False
    chunks: int = 0
    content_chunks: int = 0
    completion_tokens: int | None = None
    #: None until known; False hints at dropped or duplicated chunks (not proof).
    chunk_count_matches: bool | None = None
    complete: bool = False
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def write_jsonl(self, stream: IO[str]) -> None:
        """Append this receipt as one JSON line (an audit trail)."""
        stream.write(self.to_json() + "\n")
