"""How strictly a confidential answer is verified (SDK-wide, or per call with ``verification=``)."""

from __future__ import annotations

import re
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
        """Refuse wrong types, unknown values, and settings that would turn a check against the user."""
        for name in _BOOLEANS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False")
        if self.check_chunk_count is not None and not isinstance(self.check_chunk_count, bool):
            raise TypeError("check_chunk_count must be True, False or None (prefer chunk_count=...)")
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}")
        object.__setattr__(self, "signature_schemes", _schemes(self.signature_schemes))
        if self.check_chunk_count is False:
            object.__setattr__(self, "chunk_count", "off")
        object.__setattr__(self, "check_chunk_count", self.chunk_count != "off")
        if self.pinned_signers is not None:
            object.__setattr__(self, "pinned_signers", _addresses(self.pinned_signers))
            if not self.verify_signatures:
                raise ValueError("pinned_signers needs verify_signatures=True")
            if not self.require_signature:
                # An unsigned answer would pass unchecked: the pin would protect nothing.
                raise ValueError("pinned_signers needs require_signature=True")
        if not _valid_pad_to(self.pad_to):
            raise ValueError("pad_to must be a positive int, a callable or None")

    def weakened(self) -> tuple[str, ...]:
        """What this policy no longer checks that the default does (the names of the settings)."""
        off = [name for name in ("verify_signatures", "require_signature", "require_response_hash")
               if not getattr(self, name)]
        if self.chunk_count == "off":
            off.append("chunk_count")
        return tuple(off)

    def with_(self, **changes: Any) -> VerificationPolicy:
        """A copy with some settings changed."""
        if "chunk_count" in changes and "check_chunk_count" not in changes:
            changes["check_chunk_count"] = None  # the new setting decides, not the old alias
        return replace(self, **changes)


def _valid_pad_to(value: Any) -> bool:
    if value is None or callable(value):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


_BOOLEANS = ("require_response_hash", "require_signature", "randomize_plaintext", "verify_signatures")
_CHOICES: dict[str, tuple[str, ...]] = {
    "nonce_reuse": ("warn", "raise", "ignore", "buffer"),
    "attestation": ("enforce", "warn", "off"),
    "chunk_count": ("raise", "warn", "off"),
    "completions_stream": ("buffer", "native"),
}
_SUI_ADDRESS = re.compile(r"0x[0-9a-f]{64}")


def _addresses(values: Any) -> frozenset[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError("pinned_signers must be a set of Sui addresses (strings), e.g. frozenset({'0x…'})")
    addresses = []
    for value in values:
        if not isinstance(value, str):
            raise TypeError("pinned_signers must hold Sui addresses as strings")
        address = value.strip().lower()
        if not _SUI_ADDRESS.fullmatch(address):
            raise ValueError("pinned_signers must hold Sui addresses: '0x' followed by 64 hex digits")
        addresses.append(address)
    return frozenset(addresses)


def _schemes(values: Any) -> frozenset[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"signature_schemes must be a set of scheme names from {sorted(ALL_SCHEMES)}")
    schemes = frozenset(values)
    unknown = [s for s in schemes if s not in ALL_SCHEMES]
    if unknown or not schemes:
        raise ValueError(f"signature_schemes must be a non-empty set of names from {sorted(ALL_SCHEMES)}")
    return schemes


DEFAULT_POLICY = VerificationPolicy()
