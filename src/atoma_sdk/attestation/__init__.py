"""Offline verification of an Atoma node's NVIDIA Confidential Computing evidence.

An Atoma node binds its X25519 key into one SPDM GET_MEASUREMENTS report per GPU: the report's
requester nonce is ``BLAKE3(key_rotation_nonce u64 LE || public_key || 300 u16 LE)``, and the report is
signed by the GPU's leaf certificate, whose chain ends at the NVIDIA Device Identity CA (embedded here).

Low level::

    report = verify_node_evidence(compressed_evidence, public_key, key_rotation_nonce)
    device = verify_device_evidence(chain_pem, report_bytes)   # no Atoma nonce; returns the report's nonce

High level (what the confidential flow uses before sending a prompt)::

    verifier = AttestationVerifier(
        ProxyServiceEvidenceSource("https://proxy-service.example"),        # never sends the bearer token
        SuiRotationNonceSource("https://fullnode.mainnet.sui.io", ATOMA_DB_ID, package_id=ATOMA_PACKAGE),
        allowed_rotation_lag=1,
    )
    report = verifier.verify(node_small_id, public_key)           # or: await verifier.verify_async(...)

Both raise :class:`atoma_sdk.errors.AttestationError`; ``error.reason`` is one of :data:`REASONS`:
``untrusted-root``, ``broken-chain``, ``bad-signature``, ``nonce-mismatch``, ``malformed-evidence``,
``too-few-devices``, ``oversized`` and ``source-unavailable`` (the evidence or nonce source failed).
A ``nonce-mismatch`` may be a rotation race: lock again once before failing. Successful results are
cached per (node, key, rotation). :class:`~atoma_sdk.attestation.synthetic.SyntheticAttestor` builds
evidence in the real layout under a throw-away root, for tests and the local node.

What a pass proves: a genuine NVIDIA GPU in CC mode (per its device certificate chain) signed a report
committing to this key for this rotation. It does not prove CPU-TEE state, production (non-debug) mode,
certificate revocation status or golden measurements: those need NVIDIA's online services.

Needs the ``blake3`` package: ``pip install atoma-sdk[attestation]``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from atoma_sdk.attestation._reasons import REASONS

if TYPE_CHECKING:
    from atoma_sdk.attestation.sources import (
        CallableEvidenceSource,
        CallableRotationNonceSource,
        EvidenceSource,
        ProxyServiceEvidenceSource,
        RotationNonceSource,
        RotationState,
        StaticRotationNonceSource,
        SuiRotationNonceSource,
    )
    from atoma_sdk.attestation.verifier import AttestationVerifier
    from atoma_sdk.attestation.verify import (
        AttestationReport,
        DeviceReport,
        verify_device_evidence,
        verify_node_evidence,
    )

__all__ = [
    "REASONS",
    "AttestationReport",
    "AttestationVerifier",
    "CallableEvidenceSource",
    "CallableRotationNonceSource",
    "DeviceReport",
    "EvidenceSource",
    "ProxyServiceEvidenceSource",
    "RotationNonceSource",
    "RotationState",
    "StaticRotationNonceSource",
    "SuiRotationNonceSource",
    "verify_device_evidence",
    "verify_node_evidence",
]

_LAZY = {
    "AttestationReport": "verify",
    "DeviceReport": "verify",
    "verify_device_evidence": "verify",
    "verify_node_evidence": "verify",
    "AttestationVerifier": "verifier",
    "CallableEvidenceSource": "sources",
    "CallableRotationNonceSource": "sources",
    "EvidenceSource": "sources",
    "ProxyServiceEvidenceSource": "sources",
    "RotationNonceSource": "sources",
    "RotationState": "sources",
    "StaticRotationNonceSource": "sources",
    "SuiRotationNonceSource": "sources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
