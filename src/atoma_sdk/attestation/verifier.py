"""``AttestationVerifier``: fetch, verify and cache a node's attestation for a given X25519 key.

``verify`` and ``verify_async`` only differ in how they call the sources; choosing the acceptable
rotations, the cache, and the verification itself are shared.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from atoma_sdk.attestation._reasons import SOURCE_UNAVAILABLE, fail
from atoma_sdk.attestation.chain import load_trusted_roots
from atoma_sdk.attestation.evidence import decode_evidence
from atoma_sdk.attestation.nonce import check_inputs
from atoma_sdk.attestation.sources import EvidenceSource, RotationNonceSource, RotationState
from atoma_sdk.attestation.verify import AttestationReport, check_node

__all__ = ["AttestationVerifier"]

_DEFAULT_CACHE_SIZE: Final = 1024
_CacheKey = tuple[int, bytes, "int | None", int]


def acceptable_rotations(states: Sequence[RotationState], allowed_lag: int) -> list[RotationState]:
    """The newest rotation and those at most ``allowed_lag`` behind it (by counter, else by position)."""
    if not states:
        fail(SOURCE_UNAVAILABLE, "the rotation nonce source gave no rotation")
    newest = states[0].counter
    if newest is not None and all(state.counter is not None for state in states):
        return [s for s in states if s.counter is not None and newest - allowed_lag <= s.counter <= newest]
    return list(states[: allowed_lag + 1])


class AttestationVerifier:
    """Checks that a node's X25519 key is attested by its NVIDIA CC evidence for an acceptable rotation.

    ``verify(node_small_id, public_key)`` returns an :class:`AttestationReport` or raises
    :class:`~atoma_sdk.errors.AttestationError` (``reason`` tells why). Passes are cached per
    (node, key, rotation counter, rotation nonce); failures are not cached.
    """

    def __init__(
        self,
        evidence_source: EvidenceSource,
        nonce_source: RotationNonceSource,
        *,
        trusted_roots: Sequence[bytes] | None = None,
        min_devices: int = 1,
        allowed_rotation_lag: int = 0,
        cache_size: int = _DEFAULT_CACHE_SIZE,
    ) -> None:
        self.evidence_source = evidence_source
        self.nonce_source = nonce_source
        self.min_devices = max(1, min_devices)
        self.allowed_rotation_lag = max(0, allowed_rotation_lag)
        self._roots = load_trusted_roots(trusted_roots)
        self._cache: OrderedDict[_CacheKey, AttestationReport] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._lock = threading.Lock()

    def clear_cache(self) -> None:
        """Forget every cached pass."""
        with self._lock:
            self._cache.clear()

    def _lookup(
        self, node_small_id: int, public_key: bytes, states: Sequence[RotationState]
    ) -> AttestationReport | None:
        with self._lock:
            for state in states:
                key = (node_small_id, public_key, state.counter, state.nonce)
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
        return None

    def _decide(
        self, node_small_id: int, public_key: bytes, states: Sequence[RotationState], evidence: bytes
    ) -> AttestationReport:
        report = check_node(
            decode_evidence(evidence),
            public_key,
            [(state.counter, state.nonce) for state in states],
            roots=self._roots,
            min_devices=self.min_devices,
        )
        key = (node_small_id, public_key, report.key_rotation_counter, report.key_rotation_nonce)
        with self._lock:
            self._cache[key] = report
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return report

    def _accept(self, public_key: bytes, states: Sequence[RotationState]) -> list[RotationState]:
        accepted = acceptable_rotations(states, self.allowed_rotation_lag)
        for state in accepted:
            check_inputs(public_key, state.nonce)
        return accepted

    def verify(self, node_small_id: int, public_key: bytes) -> AttestationReport:
        """Verify (or reuse a cached pass for) ``public_key`` of node ``node_small_id``."""
        states = self._accept(public_key, self.nonce_source.rotations(self.allowed_rotation_lag))
        cached = self._lookup(node_small_id, public_key, states)
        if cached is not None:
            return cached
        evidence = self.evidence_source.fetch(node_small_id)
        return self._decide(node_small_id, public_key, states, evidence)

    async def verify_async(self, node_small_id: int, public_key: bytes) -> AttestationReport:
        """Async twin of :meth:`verify` (the CPU-bound checks run inline; they take milliseconds)."""
        states = self._accept(public_key, await self.nonce_source.rotations_async(self.allowed_rotation_lag))
        cached = self._lookup(node_small_id, public_key, states)
        if cached is not None:
            return cached
        evidence = await self.evidence_source.fetch_async(node_small_id)
        return self._decide(node_small_id, public_key, states, evidence)
