"""Synthetic NVIDIA CC evidence in the real byte layout, under a throw-away P-384 root.

For tests and the local node: ``SyntheticAttestor.generate(devices=1)`` makes a 5-certificate chain per
device (root -> identity -> provisioner ICA -> BROM -> leaf with a TCG DICE FWID extension) once; then
``evidence_for(public_key, key_rotation_nonce)`` signs fresh reports (cheap) and returns the
zlib-compressed evidence list that :func:`~atoma_sdk.attestation.verify_node_evidence` accepts when given
``trusted_roots=[attestor.root_pem]``. Nothing here is trusted by default: the root is not NVIDIA's.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from atoma_sdk.attestation.chain import DICE_TCB_INFO_OID
from atoma_sdk.attestation.evidence import EvidenceItem, EvidenceType, encode_evidence
from atoma_sdk.attestation.nonce import atoma_report_nonce
from atoma_sdk.attestation.spdm import OPAQUE_DRIVER_VERSION, OPAQUE_FWID, OPAQUE_VBIOS_VERSION

__all__ = ["SyntheticAttestor", "build_synthetic_evidence"]

_ORG: Final = "Atoma synthetic test CA (not NVIDIA)"
_NOT_BEFORE: Final = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
_NOT_AFTER: Final = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
_MEASUREMENT_BLOCKS: Final = 8
_SHA384_OID_DER: Final = bytes.fromhex("0609608648016503040202")


def _name(common_name: str, serial: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attributes)


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    length = bytes([size]) if size < 0x80 else bytes([0x80 | 2]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + content


def _dice_tcb_info(fwid: bytes) -> bytes:
    """A minimal TcbInfo-like value whose last 48 bytes are the FWID digest, as in NVIDIA's leaves."""
    return _der(0x30, _der(0x30, _der(0x30, _SHA384_OID_DER + _der(0x04, fwid))))


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    fwid: bytes | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    usage.update({"key_cert_sign": ca, "crl_sign": ca, "digital_signature": not ca})
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    if fwid is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(DICE_TCB_INFO_OID, _dice_tcb_info(fwid)), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA384())


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@dataclass(frozen=True)
class _Device:
    evidence_type: EvidenceType
    chain_pem: bytes
    leaf_key: ec.EllipticCurvePrivateKey
    opaque: bytes
    measurement_record: bytes


def _opaque(fields: Sequence[tuple[int, bytes]]) -> bytes:
    return b"".join(
        kind.to_bytes(2, "little") + len(value).to_bytes(2, "little") + value for kind, value in fields
    )


def _measurement_record(label: bytes) -> bytes:
    record = b""
    for index in range(1, _MEASUREMENT_BLOCKS + 1):
        value = hashlib.sha384(label + index.to_bytes(2, "little")).digest()
        dmtf = bytes([0x01]) + len(value).to_bytes(2, "little") + value
        record += bytes([index, 0x01]) + len(dmtf).to_bytes(2, "little") + dmtf
    return record


class SyntheticAttestor:
    """A throw-away device identity hierarchy that signs reports in NVIDIA's layout.

    Build it with :meth:`generate`; the chain is kept, so :meth:`evidence_for` only signs reports.
    """

    def __init__(self, root_certificate: x509.Certificate, devices: Sequence[_Device]) -> None:
        self._root = root_certificate
        self._devices = tuple(devices)
        self.root_pem: bytes = root_certificate.public_bytes(Encoding.PEM)
        """The root to pass as ``trusted_roots=[root_pem]`` (printable, public)."""

    @classmethod
    def generate(cls, devices: int = 1, *, switches: int = 0) -> SyntheticAttestor:
        """A new root and one leaf chain per GPU (``devices``) and per NVSwitch (``switches``)."""
        root_key, identity_key, ica_key = _new_key(), _new_key(), _new_key()
        root_name = _name("Synthetic Device Identity CA")
        identity_name = _name("Synthetic GH100 Identity")
        ica_name = _name("Synthetic GH100 Provisioner ICA 1")
        root = _certificate(root_name, root_key, root_name, root_key, ca=True)
        identity = _certificate(identity_name, identity_key, root_name, root_key, ca=True)
        ica = _certificate(ica_name, ica_key, identity_name, identity_key, ca=True)
        upper = b"".join(cert.public_bytes(Encoding.PEM) for cert in (ica, identity, root))
        built: list[_Device] = []
        gpu: EvidenceType = "device"
        switch: EvidenceType = "nvswitch"
        kinds = [gpu] * devices + [switch] * switches
        for number, kind in enumerate(kinds):
            serial = os.urandom(16).hex().upper()
            label = f"{kind} {number}".encode()
            fwid = hashlib.sha384(b"synthetic fwid " + label).digest()
            brom_key, leaf_key = _new_key(), _new_key()
            brom_name = _name("Synthetic GSP BROM", serial[:18])
            brom = _certificate(brom_name, brom_key, ica_name, ica_key, ca=True)
            leaf = _certificate(
                _name("Synthetic GSP FMC LF", serial), leaf_key, brom_name, brom_key, ca=False, fwid=fwid
            )
            opaque = _opaque(
                [
                    (OPAQUE_VBIOS_VERSION, bytes(8)),
                    (OPAQUE_DRIVER_VERSION, b"000.00.00\0"),
                    (OPAQUE_FWID, fwid),
                ]
            )
            chain_pem = leaf.public_bytes(Encoding.PEM) + brom.public_bytes(Encoding.PEM) + upper
            built.append(_Device(kind, chain_pem, leaf_key, opaque, _measurement_record(label)))
        return cls(root, built)

    @property
    def root_certificate(self) -> x509.Certificate:
        """The throw-away root certificate."""
        return self._root

    @property
    def device_count(self) -> int:
        """How many GPU chains this attestor holds."""
        return sum(1 for device in self._devices if device.evidence_type == "device")

    def _report(self, device: _Device, requester_nonce: bytes) -> bytes:
        request = bytes([0x11, 0xE0, 0x01, 0xFF]) + requester_nonce + b"\x00"
        record = device.measurement_record
        response = (
            bytes([0x11, 0x60, 0x00, 0x00, _MEASUREMENT_BLOCKS])
            + len(record).to_bytes(3, "little")
            + record
            + os.urandom(32)
            + len(device.opaque).to_bytes(2, "little")
            + device.opaque
        )
        signed = request + response
        r, s = decode_dss_signature(device.leaf_key.sign(signed, ec.ECDSA(hashes.SHA384())))
        return signed + r.to_bytes(48, "big") + s.to_bytes(48, "big")

    def evidence_items(self, requester_nonce: bytes) -> list[EvidenceItem]:
        """One freshly signed report per device, all carrying ``requester_nonce`` (32 bytes)."""
        return [
            EvidenceItem(device.evidence_type, device.chain_pem, self._report(device, requester_nonce))
            for device in self._devices
        ]

    def evidence_for(self, public_key: bytes, key_rotation_nonce: int) -> bytes:
        """Compressed evidence binding ``public_key`` (32-byte X25519) for ``key_rotation_nonce``."""
        return encode_evidence(self.evidence_items(atoma_report_nonce(public_key, key_rotation_nonce)))


def build_synthetic_evidence(
    public_key: bytes, key_rotation_nonce: int, *, devices: int = 1
) -> tuple[bytes, bytes]:
    """One-shot helper: ``(compressed_evidence, root_pem)`` under a brand-new throw-away root."""
    attestor = SyntheticAttestor.generate(devices)
    return attestor.evidence_for(public_key, key_rotation_nonce), attestor.root_pem
