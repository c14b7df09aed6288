"""The local node's attestation: synthetic NVIDIA CC evidence for its current key, under a test root.

The evidence has the real byte layout (``atoma_sdk.attestation.synthetic``) but chains to a throw-away
root that the node prints, so ``VerificationPolicy(attestation="enforce")`` runs end to end offline. The
key-rotation nonce is static (the node reports it); the rotation counter counts key rotations.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..attestation import AttestationVerifier
    from ..attestation.synthetic import SyntheticAttestor

__all__ = ["LocalAttestation"]


class LocalAttestation:
    """Builds (and caches) evidence for the node's current X25519 key; blake3 is needed ([attestation])."""

    def __init__(self, devices: int = 1, key_rotation_nonce: int | None = None) -> None:
        self.devices = devices
        self.key_rotation_nonce = (
            key_rotation_nonce if key_rotation_nonce is not None else secrets.randbits(63)
        )
        self.key_rotation_counter = 1
        self._attestor: SyntheticAttestor | None = None
        self._cache: tuple[bytes, bytes] | None = None
        self._guard = threading.Lock()

    def _synthetic(self) -> SyntheticAttestor:
        if self._attestor is None:
            from ..attestation.synthetic import SyntheticAttestor

            self._attestor = SyntheticAttestor.generate(devices=self.devices)
        return self._attestor

    @property
    def root_pem(self) -> bytes:
        """The test root the evidence chains to (pass it as ``trusted_roots=[root_pem]``)."""
        return self._synthetic().root_pem

    def rotated(self) -> None:
        """The node key changed: count a rotation (the evidence follows the new key)."""
        with self._guard:
            self.key_rotation_counter += 1

    def evidence(self, public_key: bytes) -> bytes:
        """zlib-compressed evidence committing to ``public_key`` for the current rotation."""
        with self._guard:
            if self._cache is not None and self._cache[0] == public_key:
                return self._cache[1]
            evidence = self._synthetic().evidence_for(public_key, self.key_rotation_nonce)
            self._cache = (public_key, evidence)
            return evidence

    def describe(self) -> dict[str, Any]:
        """What a client needs to verify this node (all public)."""
        return {
            "root_pem": self.root_pem.decode("ascii"),
            "key_rotation_nonce": self.key_rotation_nonce,
            "key_rotation_counter": self.key_rotation_counter,
            "devices": self.devices,
        }

    def verifier(self, url: str) -> AttestationVerifier:
        """An :class:`~atoma_sdk.attestation.AttestationVerifier` for the node served at ``url``."""
        from ..attestation import AttestationVerifier, ProxyServiceEvidenceSource, StaticRotationNonceSource

        return AttestationVerifier(
            ProxyServiceEvidenceSource(url),
            StaticRotationNonceSource(self.key_rotation_nonce, counter=self.key_rotation_counter),
            trusted_roots=[self.root_pem],
            min_devices=self.devices,
        )
