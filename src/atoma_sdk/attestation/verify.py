"""Offline verification of a node's NVIDIA CC evidence and the report objects it returns.

Per device, in this order: parse the report (``malformed-evidence``), check the chain up to a trusted root
(``broken-chain`` / ``untrusted-root``), check the report's ECDSA P-384/SHA-384 signature with the leaf key
(``bad-signature``), and when the report carries an FWID (opaque type 20) require the leaf's DICE FWID to
equal it (``broken-chain``: the report is not bound to that leaf). Then, per node: at least ``min_devices``
GPU reports (``too-few-devices``) and every GPU report's requester nonce equal to the Atoma nonce
(``nonce-mismatch``). NVSwitch reports get the same chain/signature/FWID checks; their nonce is recorded
(``nonce_matched``) but not required, because only GPU reports carry the key binding.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from atoma_sdk.attestation import chain as _chain
from atoma_sdk.attestation._reasons import BAD_SIGNATURE, BROKEN_CHAIN, NONCE_MISMATCH, TOO_FEW_DEVICES, fail
from atoma_sdk.attestation.evidence import EvidenceItem, EvidenceType, decode_evidence
from atoma_sdk.attestation.nonce import atoma_report_nonce, check_inputs
from atoma_sdk.attestation.spdm import OPAQUE_DRIVER_VERSION, SpdmReport, parse_report

__all__ = ["AttestationReport", "DeviceReport", "verify_device_evidence", "verify_node_evidence"]


@dataclass(frozen=True)
class DeviceReport:
    """What was verified for one device (GPU ``"device"`` or ``"nvswitch"``)."""

    index: int
    evidence_type: EvidenceType
    chain_subjects: tuple[str, ...]
    root_subject: str
    requester_nonce: bytes
    nonce_matched: bool
    fwid: bytes | None
    measurement_count: int
    measurements_digest: bytes
    driver_version: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (bytes as hex), for receipts and audit logs."""
        return {
            "index": self.index,
            "evidence_type": self.evidence_type,
            "chain_subjects": list(self.chain_subjects),
            "root_subject": self.root_subject,
            "requester_nonce": self.requester_nonce.hex(),
            "nonce_matched": self.nonce_matched,
            "fwid": self.fwid.hex() if self.fwid is not None else None,
            "measurement_count": self.measurement_count,
            "measurements_digest": self.measurements_digest.hex(),
            "driver_version": self.driver_version,
        }


@dataclass(frozen=True)
class AttestationReport:
    """A node's verified evidence: every device passed and every GPU committed to ``public_key``."""

    public_key: bytes
    key_rotation_nonce: int
    expected_nonce: bytes
    devices: tuple[DeviceReport, ...]
    key_rotation_counter: int | None = None

    @property
    def gpu_count(self) -> int:
        """How many GPU reports verified."""
        return sum(1 for device in self.devices if device.evidence_type == "device")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (bytes as hex), for receipts and audit logs."""
        return {
            "public_key": self.public_key.hex(),
            "key_rotation_nonce": self.key_rotation_nonce,
            "key_rotation_counter": self.key_rotation_counter,
            "expected_nonce": self.expected_nonce.hex(),
            "gpu_count": self.gpu_count,
            "devices": [device.to_dict() for device in self.devices],
        }


@dataclass(frozen=True)
class _CheckedDevice:
    index: int
    evidence_type: EvidenceType
    report: SpdmReport
    certs: tuple[x509.Certificate, ...]
    root: x509.Certificate

    def summary(self, expected_nonce: bytes | None) -> DeviceReport:
        driver = self.report.opaque(OPAQUE_DRIVER_VERSION)
        return DeviceReport(
            index=self.index,
            evidence_type=self.evidence_type,
            chain_subjects=tuple(_chain.subject_text(cert) for cert in self.certs),
            root_subject=_chain.subject_text(self.root),
            requester_nonce=self.report.requester_nonce,
            nonce_matched=expected_nonce is not None and self.report.requester_nonce == expected_nonce,
            fwid=self.report.fwid,
            measurement_count=len(self.report.measurements),
            measurements_digest=self.report.measurements_digest,
            driver_version=driver.split(b"\0", 1)[0].decode("ascii", "replace") if driver else None,
        )


def _check_report_signature(report: SpdmReport, leaf: x509.Certificate) -> None:
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        fail(BAD_SIGNATURE, "the leaf certificate's key is not ECDSA P-384")
    half = len(report.signature) // 2
    r = int.from_bytes(report.signature[:half], "big")
    s = int.from_bytes(report.signature[half:], "big")
    try:
        key.verify(encode_dss_signature(r, s), report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        fail(BAD_SIGNATURE, "the report's signature does not verify with the leaf certificate")


def _check_device(
    index: int,
    item: EvidenceItem,
    roots: Sequence[x509.Certificate],
    now: datetime.datetime | None,
) -> _CheckedDevice:
    report = parse_report(item.report)
    certs = tuple(_chain.load_certificates(item.certificate_chain))
    root = _chain.verify_chain(certs, roots, now=now)
    _check_report_signature(report, certs[0])
    if report.fwid is not None and _chain.leaf_fwid(certs[0]) != report.fwid:
        fail(BROKEN_CHAIN, "the report's FWID does not match the leaf certificate's DICE FWID")
    return _CheckedDevice(index, item.evidence_type, report, certs, root)


def verify_device_evidence(
    certificate_chain: bytes,
    report: bytes,
    *,
    evidence_type: EvidenceType = "device",
    expected_nonce: bytes | None = None,
    trusted_roots: Sequence[bytes] | None = None,
    now: datetime.datetime | None = None,
) -> DeviceReport:
    """Verify one device's chain (PEM or DER bytes), report and FWID; the nonce is only reported.

    ``DeviceReport.requester_nonce`` is the report's nonce; ``nonce_matched`` compares it with
    ``expected_nonce`` when given (no error is raised on a mismatch at this level).
    """
    roots = _chain.load_trusted_roots(trusted_roots)
    item = EvidenceItem(evidence_type, certificate_chain, report)
    return _check_device(0, item, roots, now).summary(expected_nonce)


def check_node(
    items: Sequence[EvidenceItem],
    public_key: bytes,
    rotations: Sequence[tuple[int | None, int]],
    *,
    roots: Sequence[x509.Certificate],
    min_devices: int = 1,
    now: datetime.datetime | None = None,
) -> AttestationReport:
    """The node-level decision over decoded evidence, for any of ``rotations`` ``(counter, nonce)``.

    The first rotation (in the given order) whose nonce every GPU report carries wins.
    """
    for _counter, nonce in rotations:
        check_inputs(public_key, nonce)
    checked = [_check_device(index, item, roots, now) for index, item in enumerate(items)]
    gpus = [device for device in checked if device.evidence_type == "device"]
    if len(gpus) < max(1, min_devices):
        fail(TOO_FEW_DEVICES, f"{len(gpus)} GPU report(s), at least {max(1, min_devices)} required")
    for counter, nonce in rotations:
        expected = atoma_report_nonce(public_key, nonce)
        if all(device.report.requester_nonce == expected for device in gpus):
            return AttestationReport(
                public_key=public_key,
                key_rotation_nonce=nonce,
                expected_nonce=expected,
                devices=tuple(device.summary(expected) for device in checked),
                key_rotation_counter=counter,
            )
    fail(NONCE_MISMATCH, "a GPU report does not commit to this public key and rotation nonce")


def verify_node_evidence(
    compressed_evidence: bytes,
    public_key: bytes,
    key_rotation_nonce: int,
    *,
    trusted_roots: Sequence[bytes] | None = None,
    min_devices: int = 1,
    now: datetime.datetime | None = None,
) -> AttestationReport:
    """Verify a node's zlib-compressed evidence list against its 32-byte X25519 ``public_key``.

    Raises :class:`~atoma_sdk.errors.AttestationError` whose ``reason`` is one of
    ``attestation.REASONS``; see the module docstring for the checks and their order.
    """
    check_inputs(public_key, key_rotation_nonce)
    roots = _chain.load_trusted_roots(trusted_roots)
    items = decode_evidence(compressed_evidence)
    return check_node(
        items, public_key, [(None, key_rotation_nonce)], roots=roots, min_devices=min_devices, now=now
    )
