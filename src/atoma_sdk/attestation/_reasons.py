"""The fixed set of :class:`~atoma_sdk.errors.AttestationError` reason codes, and one helper to raise them."""

from __future__ import annotations

from typing import Final, NoReturn

from atoma_sdk.errors import AttestationError

UNTRUSTED_ROOT: Final = "untrusted-root"
BROKEN_CHAIN: Final = "broken-chain"
BAD_SIGNATURE: Final = "bad-signature"
NONCE_MISMATCH: Final = "nonce-mismatch"
MALFORMED_EVIDENCE: Final = "malformed-evidence"
TOO_FEW_DEVICES: Final = "too-few-devices"
OVERSIZED: Final = "oversized"
SOURCE_UNAVAILABLE: Final = "source-unavailable"

REASONS: Final = frozenset(
    {
        UNTRUSTED_ROOT,
        BROKEN_CHAIN,
        BAD_SIGNATURE,
        NONCE_MISMATCH,
        MALFORMED_EVIDENCE,
        TOO_FEW_DEVICES,
        OVERSIZED,
        SOURCE_UNAVAILABLE,
    }
)


def fail(reason: str, message: str) -> NoReturn:
    """Raise :class:`AttestationError` with ``reason`` (one of :data:`REASONS`)."""
    raise AttestationError(f"attestation {reason}: {message}", reason)
