"""Synthetic evidence: accepted when honest, rejected with the right reason when tampered with."""

from __future__ import annotations

import dataclasses
import datetime
import json
import zlib
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoma_sdk.attestation import REASONS, AttestationReport, verify_node_evidence
from atoma_sdk.attestation.evidence import EvidenceItem, decode_evidence, encode_evidence
from atoma_sdk.attestation.synthetic import SyntheticAttestor, build_synthetic_evidence
from atoma_sdk.errors import AttestationError, ConfidentialError

KEY = bytes(range(32))
NONCE = 0x1122334455667788


def _verify(
    evidence: bytes,
    attestor: SyntheticAttestor,
    *,
    public_key: bytes = KEY,
    nonce: int = NONCE,
    min_devices: int = 1,
) -> AttestationReport:
    return verify_node_evidence(
        evidence, public_key, nonce, trusted_roots=[attestor.root_pem], min_devices=min_devices
    )


def _reason(
    evidence: bytes,
    attestor: SyntheticAttestor,
    *,
    public_key: bytes = KEY,
    nonce: int = NONCE,
    min_devices: int = 1,
) -> str:
    with pytest.raises(AttestationError) as info:
        _verify(evidence, attestor, public_key=public_key, nonce=nonce, min_devices=min_devices)
    assert isinstance(info.value, ConfidentialError)
    assert info.value.reason in REASONS
    return info.value.reason


def _mutate(attestor: SyntheticAttestor, change: Callable[[list[EvidenceItem]], None]) -> bytes:
    items = decode_evidence(attestor.evidence_for(KEY, NONCE))
    change(items)
    return encode_evidence(items)


def _certs(item: EvidenceItem) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(item.certificate_chain)


def _with_chain(item: EvidenceItem, certs: list[x509.Certificate]) -> EvidenceItem:
    pem = b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)
    return dataclasses.replace(item, certificate_chain=pem)


def _with_report(item: EvidenceItem, report: bytes) -> EvidenceItem:
    return dataclasses.replace(item, report=report)


def test_honest_evidence_is_accepted(attestor: SyntheticAttestor) -> None:
    report = _verify(attestor.evidence_for(KEY, NONCE), attestor, min_devices=2)
    assert report.public_key == KEY and report.key_rotation_nonce == NONCE
    assert report.gpu_count == 2
    kinds = [device.evidence_type for device in report.devices]
    assert kinds == ["device", "device", "nvswitch"]
    assert all(device.nonce_matched for device in report.devices)
    assert report.to_dict()["devices"][0]["chain_subjects"][-1].endswith("(not NVIDIA)")


def test_one_shot_builder() -> None:
    evidence, root_pem = build_synthetic_evidence(KEY, 5)
    assert verify_node_evidence(evidence, KEY, 5, trusted_roots=[root_pem]).gpu_count == 1


def test_synthetic_evidence_is_not_trusted_by_default(attestor: SyntheticAttestor) -> None:
    with pytest.raises(AttestationError) as info:
        verify_node_evidence(attestor.evidence_for(KEY, NONCE), KEY, NONCE)
    assert info.value.reason == "untrusted-root"


def test_substituted_key(attestor: SyntheticAttestor) -> None:
    evidence = attestor.evidence_for(KEY, NONCE)
    assert _reason(evidence, attestor, public_key=bytes(32)) == "nonce-mismatch"


def test_wrong_rotation_nonce(attestor: SyntheticAttestor) -> None:
    assert _reason(attestor.evidence_for(KEY, NONCE), attestor, nonce=NONCE + 1) == "nonce-mismatch"


def test_one_gpu_with_another_nonce(attestor: SyntheticAttestor) -> None:
    stale = decode_evidence(attestor.evidence_for(KEY, NONCE - 1))

    def change(items: list[EvidenceItem]) -> None:
        items[1] = stale[1]

    assert _reason(_mutate(attestor, change), attestor) == "nonce-mismatch"


def test_switch_nonce_is_not_required(attestor: SyntheticAttestor) -> None:
    stale = decode_evidence(attestor.evidence_for(KEY, NONCE - 1))

    def change(items: list[EvidenceItem]) -> None:
        items[2] = stale[2]

    report = _verify(_mutate(attestor, change), attestor)
    assert [d.nonce_matched for d in report.devices] == [True, True, False]


def test_look_alike_root(attestor: SyntheticAttestor, other_attestor: SyntheticAttestor) -> None:
    assert other_attestor.root_certificate.subject == attestor.root_certificate.subject
    evidence = other_attestor.evidence_for(KEY, NONCE)
    assert _reason(evidence, attestor) == "untrusted-root"


def test_look_alike_root_spliced_into_chain(
    attestor: SyntheticAttestor, other_attestor: SyntheticAttestor
) -> None:
    def change(items: list[EvidenceItem]) -> None:
        certs = _certs(items[0])
        items[0] = _with_chain(items[0], [*certs[:-1], other_attestor.root_certificate])

    assert _reason(_mutate(attestor, change), attestor) == "broken-chain"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda c: [c[0], *c[2:]], id="missing-brom"),
        pytest.param(lambda c: [c[0], c[1], c[3], c[2], c[4]], id="reordered"),
    ],
)
def test_broken_chain(
    attestor: SyntheticAttestor, edit: Callable[[list[x509.Certificate]], list[x509.Certificate]]
) -> None:
    def change(items: list[EvidenceItem]) -> None:
        items[0] = _with_chain(items[0], edit(_certs(items[0])))

    assert _reason(_mutate(attestor, change), attestor) == "broken-chain"


def test_missing_leaf_is_a_bad_signature(attestor: SyntheticAttestor) -> None:
    def change(items: list[EvidenceItem]) -> None:
        items[0] = _with_chain(items[0], _certs(items[0])[1:])

    assert _reason(_mutate(attestor, change), attestor) == "bad-signature"


def test_chain_without_its_root_still_anchors(attestor: SyntheticAttestor) -> None:
    def change(items: list[EvidenceItem]) -> None:
        items[0] = _with_chain(items[0], _certs(items[0])[:-1])

    assert _verify(_mutate(attestor, change), attestor).gpu_count == 2


def test_leaf_of_another_device(attestor: SyntheticAttestor) -> None:
    def change(items: list[EvidenceItem]) -> None:
        other_leaf = _certs(items[1])[0]
        items[0] = _with_chain(items[0], [other_leaf, *_certs(items[0])[1:]])

    assert _reason(_mutate(attestor, change), attestor) == "broken-chain"


def test_chain_and_report_of_different_devices(attestor: SyntheticAttestor) -> None:
    def change(items: list[EvidenceItem]) -> None:
        items[0] = _with_report(items[0], items[1].report)

    assert _reason(_mutate(attestor, change), attestor) == "bad-signature"


def test_fwid_mismatch(attestor: SyntheticAttestor) -> None:
    device = attestor._devices[0]
    forged_opaque = device.opaque[:-48] + bytes(48)
    forged = SyntheticAttestor(attestor.root_certificate, [dataclasses.replace(device, opaque=forged_opaque)])
    assert _reason(forged.evidence_for(KEY, NONCE), attestor) == "broken-chain"


@pytest.mark.parametrize(
    ("position", "expected"),
    [(10, "bad-signature"), (200, "bad-signature"), (-1, "bad-signature"), (-60, "bad-signature")],
)
def test_flipped_byte_in_report(attestor: SyntheticAttestor, position: int, expected: str) -> None:
    def change(items: list[EvidenceItem]) -> None:
        report = bytearray(items[0].report)
        report[position] ^= 0x01
        items[0] = _with_report(items[0], bytes(report))

    assert _reason(_mutate(attestor, change), attestor) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_flipped_report_bit_is_rejected(attestor: SyntheticAttestor, data: st.DataObject) -> None:
    items = decode_evidence(attestor.evidence_for(KEY, NONCE))
    report = bytearray(items[0].report)
    position = data.draw(st.integers(0, len(report) - 1))
    report[position] ^= 1 << data.draw(st.integers(0, 7))
    items[0] = _with_report(items[0], bytes(report))
    assert _reason(encode_evidence(items), attestor) in {"bad-signature", "malformed-evidence"}


@pytest.mark.parametrize("cut", [1, 96, 200])
def test_truncated_report(attestor: SyntheticAttestor, cut: int) -> None:
    def change(items: list[EvidenceItem]) -> None:
        items[0] = _with_report(items[0], items[0].report[:-cut])

    assert _reason(_mutate(attestor, change), attestor) == "malformed-evidence"


def test_trailing_bytes_in_report(attestor: SyntheticAttestor) -> None:
    def change(items: list[EvidenceItem]) -> None:
        items[0] = _with_report(items[0], items[0].report + b"\x00")

    assert _reason(_mutate(attestor, change), attestor) == "malformed-evidence"


def test_truncated_compressed_evidence(attestor: SyntheticAttestor) -> None:
    evidence = attestor.evidence_for(KEY, NONCE)
    assert _reason(evidence[:-5], attestor) == "malformed-evidence"


def test_trailing_bytes_after_compressed_evidence(attestor: SyntheticAttestor) -> None:
    evidence = attestor.evidence_for(KEY, NONCE)
    assert _reason(evidence + b"\x00", attestor) == "malformed-evidence"


def test_zlib_bomb(attestor: SyntheticAttestor) -> None:
    bomb = zlib.compress(b"[" + b" " * (16 * 1024 * 1024) + b"]", 9)
    assert len(bomb) < 100_000
    assert _reason(bomb, attestor) == "oversized"


def test_oversized_compressed_input(attestor: SyntheticAttestor) -> None:
    assert _reason(bytes(8 * 1024 * 1024 + 1), attestor) == "oversized"


def test_too_few_devices(attestor: SyntheticAttestor) -> None:
    assert _reason(attestor.evidence_for(KEY, NONCE), attestor, min_devices=3) == "too-few-devices"

    def only_switch(items: list[EvidenceItem]) -> None:
        del items[:2]

    assert _reason(_mutate(attestor, only_switch), attestor) == "too-few-devices"


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b"{}",
        b"[]",
        b"[1]",
        b'[{"certificate": "AAAA"}]',
        b'[{"certificate": "AAAA", "evidence": "%%%"}]',
        b'[{"evidence_type": "tpm", "certificate": "AAAA", "evidence": "AAAA"}]',
        b'[{"certificate": "AAAA", "evidence": "AAAA"}]',
    ],
)
def test_malformed_documents(attestor: SyntheticAttestor, document: bytes) -> None:
    assert _reason(zlib.compress(document), attestor) == "malformed-evidence"


def test_bad_public_key_length(attestor: SyntheticAttestor) -> None:
    assert _reason(attestor.evidence_for(KEY, NONCE), attestor, public_key=KEY[:31]) == "nonce-mismatch"


def test_validity_dates_checked_only_with_now(attestor: SyntheticAttestor) -> None:
    evidence = attestor.evidence_for(KEY, NONCE)
    roots = [attestor.root_pem]
    inside = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    assert verify_node_evidence(evidence, KEY, NONCE, trusted_roots=roots, now=inside).gpu_count == 2
    before = datetime.datetime(2019, 1, 1)  # naive means UTC
    with pytest.raises(AttestationError) as info:
        verify_node_evidence(evidence, KEY, NONCE, trusted_roots=roots, now=before)
    assert info.value.reason == "broken-chain"


def test_unreadable_trusted_root(attestor: SyntheticAttestor) -> None:
    with pytest.raises(AttestationError) as info:
        verify_node_evidence(attestor.evidence_for(KEY, NONCE), KEY, NONCE, trusted_roots=[b"garbage"])
    assert info.value.reason == "untrusted-root"


def test_null_evidence_type_means_gpu(attestor: SyntheticAttestor) -> None:
    items = decode_evidence(attestor.evidence_for(KEY, NONCE))[:1]
    document = json.loads(zlib.decompress(encode_evidence(items)))
    document[0]["evidence_type"] = None
    report = _verify(zlib.compress(json.dumps(document).encode()), attestor)
    assert [device.evidence_type for device in report.devices] == ["device"]
