"""How strictly a confidential answer is verified (SDK-wide, or per call with ``verification=``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .sui import ALL_SCHEMES

NonceReuse = Literal["warn", "raise", "ignore", "buffer"]
Attestation = Literal["enforce", "warn", "off"]
ChunkCount = Literal["raise", "warn", "off"]
CompletionsStream = Literal["buffer", "native"]

__all__ = [
    "Attestation",
    "ChunkCount",
    "CompletionsStream",
    "ConfidentialityWarning",
    "NonceReuse",
    "VerificationPolicy",
]


class ConfidentialityWarning(UserWarning):
    """Something weakened confidentiality or integrity without failing the call (see the receipt)."""


@dataclass(frozen=True)
class VerificationPolicy:
    """What a confidential call checks before it returns anything. Fails closed by default.

    - ``require_response_hash``: the response hash must be present and equal BLAKE2b-256 of the
      decrypted bytes (always recomputed locally).
    - ``require_signature``: the node's Sui signature must be present and valid over the local hash.
    - ``verify_signatures`` (default True): False skips signature verification altogether (the cheapest
      setting for streams): signatures are neither required nor checked, the receipt says
      ``signature_verified=False`` with no signer; hashes are still checked. Not with ``pinned_signers``.
    - ``signature_schemes``: the Sui schemes accepted (ECDSA message hashing is inferred, see ``sui``).
    - ``pinned_signers``: if given, the signer's Sui address must be one of these.
    - ``nonce_reuse``: what to do when a stream's chunks share a nonce, as today's nodes do:
      ``"warn"`` (default), ``"raise"``, ``"ignore"``, or ``"buffer"`` (send a non-streamed request and
      yield the verified answer as chunks).
    - ``chunk_count`` (default ``"raise"``): a stream's (chunk, choice) pairs that carry text, reasoning
      text or tool-call pieces must not outnumber the node's signed ``usage.completion_tokens``, nor, for
      one choice, the request's ``max_tokens`` / ``max_completion_tokens`` (checked while the stream runs).
      Honest engines never exceed either bound; more is duplication or replay. ``"raise"``: IntegrityError;
      ``"warn"``: a ConfidentialityWarning; ``"off"``. Not applied to buffered streams (the SDK makes their
      chunks) nor to completions with ``echo=True``. ``check_chunk_count=False`` is an alias of ``"off"``.
    - ``completions_stream`` (default ``"buffer"``): how confidential *completions* streams are delivered.
      Today's proxy drops every chunk of a native one (protocol.md §12.1), so by default the SDK sends one
      non-streamed request and yields its verified answer as chunks (time to first token is then the whole
      generation); ``"native"`` streams on the wire, for a fixed proxy. ``nonce_reuse="buffer"`` always wins.
    - ``attestation``: ``"enforce"`` (no prompt leaves unless the node key verified), ``"warn"`` or
      ``"off"``; ``attestation_verifier`` is an ``atoma_sdk.attestation.AttestationVerifier``.
    - ``node_key_pins``: a :class:`~atoma_sdk.confidential.keys.NodeKeyPins` (pins or trust on first use).
    - ``randomize_plaintext`` (default True): serialise each request plaintext with 160 bits of random JSON
      whitespace so its ``plaintext_body_hash`` neither confirms a guessed prompt nor links two identical
      ones (see ``confidential.plaintext``); False sends the compact JSON.
    - ``pad_to``: pad the plaintext with trailing spaces to a size bucket (an int: round the length up to a
      multiple; a callable: ``length -> padded length``) so the ciphertext length hides the prompt length.
    """

    require_response_hash: bool = True
    require_signature: bool = True
    signature_schemes: frozenset[str] = ALL_SCHEMES
    pinned_signers: frozenset[str] | None = None
    nonce_reuse: NonceReuse = "warn"
    #: Deprecated alias: False means ``chunk_count="off"`` (normalised to ``chunk_count != "off"``).
    check_chunk_count: bool | None = None
    attestation: Attestation = "warn"
    attestation_verifier: Any = field(default=None, compare=False)
    #: Pinned node keys / trust on first use (an ``atoma_sdk.confidential.keys.NodeKeyPins``).
    node_key_pins: Any = field(default=None, compare=False)
    randomize_plaintext: bool = True
    #: An ``int`` bucket size in bytes or a callable ``length -> padded length`` (None: no padding).
    pad_to: Any = field(default=None, compare=False)
    #: False: no signature is required or checked (after the other fields: positional order is kept).
    verify_signatures: bool = True
    chunk_count: ChunkCount = "raise"
    completions_stream: CompletionsStream = "buffer"

    def __post_init__(self) -> None:
        if self.chunk_count not in ("raise", "warn", "off"):
            raise ValueError("chunk_count must be 'raise', 'warn' or 'off'")
        if self.completions_stream not in ("buffer", "native"):
            raise ValueError("completions_stream must be 'buffer' or 'native'")
        if self.check_chunk_count is False:
            object.__setattr__(self, "chunk_count", "off")
        object.__setattr__(self, "check_chunk_count", self.chunk_count != "off")
        if self.pinned_signers is not None:
            object.__setattr__(self, "pinned_signers", _addresses(self.pinned_signers))
            if not self.verify_signatures:
                raise ValueError("pinned_signers needs verify_signatures=True")
        if self.nonce_reuse not in ("warn", "raise", "ignore", "buffer"):
            raise ValueError("nonce_reuse must be 'warn', 'raise', 'ignore' or 'buffer'")
        if self.attestation not in ("enforce", "warn", "off"):
            raise ValueError("attestation must be 'enforce', 'warn' or 'off'")
        if not _valid_pad_to(self.pad_to):
            raise ValueError("pad_to must be a positive int, a callable or None")

    def with_(self, **changes: Any) -> VerificationPolicy:
        """A copy with some settings changed."""
        if "chunk_count" in changes and "check_chunk_count" not in changes:
            changes["check_chunk_count"] = None  # the new setting decides, not the old alias
        return replace(self, **changes)


def _valid_pad_to(value: Any) -> bool:
    if value is None or callable(value):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _addresses(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


DEFAULT_POLICY = VerificationPolicy()
