"""The gate every confidential attempt passes before its prompt leaves the machine.

Policy ``attestation``: ``"enforce"`` needs a verifier and a pass; ``"warn"`` (default) verifies when a
verifier is configured and otherwise warns once per process that node keys are unauthenticated (a warning
the filters ignored does not count);
``"off"`` skips it. A configured verifier that fails always fails the call. Node-key pins apply after.
"""

from __future__ import annotations

from typing import Any

from ..errors import AttestationError
from .envelope import KEY_LEN, b64d
from .notices import Once
from .policy import VerificationPolicy
from .receipt import Receipt

__all__ = ["NONCE_MISMATCH", "AttestationGate"]

NONCE_MISMATCH = "nonce-mismatch"
_PROCESS = Once()
_UNAUTHENTICATED = (
    "node keys are not attested: no attestation source is configured, so a malicious proxy could hand out "
    "its own key"
)
_ADVICE_PY = (
    "set VerificationPolicy(attestation_verifier=...) to verify them, attestation='enforce' to refuse "
    "unverified keys, or attestation='off' to silence this"
)
_ADVICE_CLI = (
    "run with --local-attestation against an `atoma node`, --attestation enforce to refuse unverified keys, "
    "or --attestation off to silence this"
)


class AttestationGate:
    """Applies the attestation policy and node-key pins to a lock; sync and async share the decisions."""

    def __init__(self, policy: VerificationPolicy) -> None:
        self.policy = policy

    def _needs_verifier(self) -> Any:
        """The verifier to run, or None when the policy lets the key through unverified."""
        if self.policy.attestation == "off":
            return None
        verifier = self.policy.attestation_verifier
        if verifier is None:
            if self.policy.attestation == "enforce":
                raise AttestationError(
                    "attestation is enforced but no attestation source is configured", "source-unavailable"
                )
            _PROCESS.warn("unauthenticated", _UNAUTHENTICATED, python=_ADVICE_PY, cli=_ADVICE_CLI)
        return verifier

    @staticmethod
    def _public_key(lock: Any) -> bytes:
        return b64d(lock.public_key, length=KEY_LEN, what="node public key")

    def _record(self, lock: Any, receipt: Receipt, report: Any) -> None:
        counter = None
        if report is not None:
            receipt.attestation = "verified"
            receipt.attestation_report = report.to_dict()
            counter = report.key_rotation_counter
        else:
            receipt.attestation = "off" if self.policy.attestation == "off" else "unauthenticated"
        pins = self.policy.node_key_pins
        if pins is not None:
            receipt.key_pinned = pins.check(lock.node_small_id, lock.public_key, counter)

    def check(self, lock: Any, receipt: Receipt) -> None:
        """Verify the locked node's key (sync); raises AttestationError / KeyMismatchError."""
        verifier = self._needs_verifier()
        report = verifier.verify(lock.node_small_id, self._public_key(lock)) if verifier else None
        self._record(lock, receipt, report)

    async def check_async(self, lock: Any, receipt: Receipt) -> None:
        """Async :meth:`check`."""
        verifier = self._needs_verifier()
        report = await verifier.verify_async(lock.node_small_id, self._public_key(lock)) if verifier else None
        self._record(lock, receipt, report)
