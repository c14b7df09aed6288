"""Every public NVIDIA sample parses, verifies its signature and chains to the embedded NVIDIA root."""

from __future__ import annotations

import datetime
import hashlib
import json
import zlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from atoma_sdk.attestation import chain, verify_device_evidence, verify_node_evidence
from atoma_sdk.attestation.evidence import parse_evidence_list
from atoma_sdk.errors import AttestationError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nvidia-attestation"
NVIDIA_ROOT_DER_SHA256 = "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48"



def _bundle(name: str) -> tuple[list[dict[str, str]], bytes]:
    raw = (FIXTURES / name).read_bytes()
    return json.loads(raw), raw


def test_embedded_root_is_the_nvidia_device_identity_ca() -> None:
    root = chain.nvidia_root()
    assert hashlib.sha256(root.public_bytes(Encoding.DER)).hexdigest() == NVIDIA_ROOT_DER_SHA256
    assert root == x509.load_pem_x509_certificate((FIXTURES / "device_root.pem").read_bytes())


def test_hopper_sample_verifies() -> None:
    report_hex = (FIXTURES / "hopperAttestationReport.txt").read_text().strip()
    device = verify_device_evidence(
        (FIXTURES / "hopperCertChain.txt").read_bytes(),
        bytes.fromhex(report_hex),
        now=datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc),
    )
    assert device.requester_nonce == bytes.fromhex(report_hex[8:72])
    assert device.root_subject == "O=NVIDIA,CN=NVIDIA Device Identity CA"
    assert len(device.chain_subjects) == 5 and "GSP FMC LF" in device.chain_subjects[0]
    assert device.fwid is not None and device.measurement_count == 64
    assert device.driver_version == "550.90.07"
    assert not device.nonce_matched


@pytest.mark.parametrize(
    ("name", "evidence_type", "count"),
    [
        ("nvrust_evidence.json", "device", 8),
        ("ppcie_gpu_evidence.json", "device", 8),
        ("ppcie_switch_evidence.json", "nvswitch", 4),
    ],
)
def test_bundles_verify(name: str, evidence_type: str, count: int) -> None:
    data, raw = _bundle(name)
    items = parse_evidence_list(raw)
    assert len(items) == count
    for entry, item in zip(data, items, strict=True):
        assert item.evidence_type == "device"  # no evidence_type field in these files
        device = verify_device_evidence(
            item.certificate_chain, item.report, evidence_type=evidence_type  # type: ignore[arg-type]
        )
        assert device.root_subject == "O=NVIDIA,CN=NVIDIA Device Identity CA"
        if "nonce" in entry:
            assert device.requester_nonce.hex() == entry["nonce"]
            assert device.nonce_matched is False
            assert verify_device_evidence(
                item.certificate_chain, item.report, expected_nonce=bytes.fromhex(entry["nonce"])
            ).nonce_matched


def test_der_chain_is_accepted() -> None:
    certs = x509.load_pem_x509_certificates((FIXTURES / "hopperCertChain.txt").read_bytes())
    der = b"".join(cert.public_bytes(Encoding.DER) for cert in certs)
    report = bytes.fromhex((FIXTURES / "hopperAttestationReport.txt").read_text().strip())
    assert verify_device_evidence(der, report).fwid is not None


def test_real_node_bundle_fails_only_on_the_atoma_nonce() -> None:
    _, raw = _bundle("nvrust_evidence.json")
    with pytest.raises(AttestationError) as info:
        verify_node_evidence(zlib.compress(raw), bytes(32), 7, min_devices=8)
    assert info.value.reason == "nonce-mismatch"
    with pytest.raises(AttestationError) as info:
        verify_node_evidence(zlib.compress(raw), bytes(32), 7, min_devices=9)
    assert info.value.reason == "too-few-devices"


def test_real_sample_rejected_under_another_root() -> None:
    _, raw = _bundle("nvrust_evidence.json")
    item = parse_evidence_list(raw)[0]
    other = x509.load_pem_x509_certificates((FIXTURES / "hopperCertChain.txt").read_bytes())[3]
    with pytest.raises(AttestationError) as info:
        verify_device_evidence(
            item.certificate_chain, item.report, trusted_roots=[other.public_bytes(Encoding.PEM)]
        )
    assert info.value.reason == "untrusted-root"
