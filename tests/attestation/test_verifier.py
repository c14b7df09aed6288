"""AttestationVerifier end to end over loopback sources: pass, reasons, rotation lag and the cache."""

from __future__ import annotations

import pytest

from atoma_sdk.attestation import (
    AttestationVerifier,
    CallableEvidenceSource,
    CallableRotationNonceSource,
    ProxyServiceEvidenceSource,
    RotationState,
    StaticRotationNonceSource,
    SuiRotationNonceSource,
)
from atoma_sdk.attestation.synthetic import SyntheticAttestor
from atoma_sdk.errors import AttestationError

from .servers import ATOMA_DB_ID, PACKAGE_ID, FakeNetwork

KEY = bytes(range(1, 33))
NODE = 7


def _verifier(
    network: FakeNetwork, base_url: str, attestor: SyntheticAttestor, *, lag: int = 0
) -> AttestationVerifier:
    return AttestationVerifier(
        ProxyServiceEvidenceSource(base_url),
        SuiRotationNonceSource(base_url + "/rpc", ATOMA_DB_ID, package_id=PACKAGE_ID, cache_ttl=0),
        trusted_roots=[attestor.root_pem],
        allowed_rotation_lag=lag,
    )


def test_pass_and_cache_hit(network: FakeNetwork, base_url: str, attestor: SyntheticAttestor) -> None:
    network.evidence[NODE] = attestor.evidence_for(KEY, network.nonce)
    verifier = _verifier(network, base_url, attestor)
    report = verifier.verify(NODE, KEY)
    assert (report.key_rotation_counter, report.key_rotation_nonce, report.gpu_count) == (3, 1000, 2)
    assert verifier.verify(NODE, KEY) is report
    assert network.calls.count("get_node_attestation") == 1
    verifier.clear_cache()
    verifier.verify(NODE, KEY)
    assert network.calls.count("get_node_attestation") == 2


@pytest.mark.anyio
async def test_async_pass_and_cache_hit(
    network: FakeNetwork, base_url: str, attestor: SyntheticAttestor
) -> None:
    network.evidence[NODE] = attestor.evidence_for(KEY, network.nonce)
    verifier = _verifier(network, base_url, attestor)
    report = await verifier.verify_async(NODE, KEY)
    assert await verifier.verify_async(NODE, KEY) is report
    assert verifier.verify(NODE, KEY) is report
    assert network.calls.count("get_node_attestation") == 1


def test_substituted_key_is_not_cached(
    network: FakeNetwork, base_url: str, attestor: SyntheticAttestor
) -> None:
    network.evidence[NODE] = attestor.evidence_for(KEY, network.nonce)
    verifier = _verifier(network, base_url, attestor)
    for _ in range(2):
        with pytest.raises(AttestationError) as info:
            verifier.verify(NODE, bytes(32))
        assert info.value.reason == "nonce-mismatch"
    assert network.calls.count("get_node_attestation") == 2


def test_rotation_invalidates_and_lag_accepts_previous(
    network: FakeNetwork, base_url: str, attestor: SyntheticAttestor
) -> None:
    network.evidence[NODE] = attestor.evidence_for(KEY, network.nonce)
    strict = _verifier(network, base_url, attestor)
    lenient = _verifier(network, base_url, attestor, lag=1)
    strict.verify(NODE, KEY)
    network.rotate(2000)  # on-chain rotation; the node has not re-attested yet
    with pytest.raises(AttestationError) as info:
        strict.verify(NODE, KEY)
    assert info.value.reason == "nonce-mismatch"
    report = lenient.verify(NODE, KEY)
    assert (report.key_rotation_counter, report.key_rotation_nonce) == (3, 1000)
    network.rotate(3000)  # now two rotations behind
    with pytest.raises(AttestationError) as info:
        lenient.verify(NODE, KEY)
    assert info.value.reason == "nonce-mismatch"


def test_missing_evidence(network: FakeNetwork, base_url: str, attestor: SyntheticAttestor) -> None:
    with pytest.raises(AttestationError) as info:
        _verifier(network, base_url, attestor).verify(404, KEY)
    assert info.value.reason == "source-unavailable"


def test_callable_sources_and_min_devices(attestor: SyntheticAttestor) -> None:
    fetched: list[int] = []

    def evidence(node: int) -> bytes:
        fetched.append(node)
        return attestor.evidence_for(KEY, 77)

    verifier = AttestationVerifier(
        CallableEvidenceSource(evidence),
        StaticRotationNonceSource(77),
        trusted_roots=[attestor.root_pem],
        min_devices=3,
    )
    with pytest.raises(AttestationError) as info:
        verifier.verify(1, KEY)
    assert info.value.reason == "too-few-devices"
    two = AttestationVerifier(
        CallableEvidenceSource(evidence), StaticRotationNonceSource(77), trusted_roots=[attestor.root_pem]
    )
    assert two.verify(1, KEY).key_rotation_counter is None
    assert fetched == [1, 1]


def test_lag_by_position_without_counters(attestor: SyntheticAttestor) -> None:
    nonces = CallableRotationNonceSource(lambda: [RotationState(9), RotationState(8)])
    evidence = CallableEvidenceSource(lambda node: attestor.evidence_for(KEY, 8))
    roots = [attestor.root_pem]
    assert AttestationVerifier(evidence, nonces, trusted_roots=roots, allowed_rotation_lag=1).verify(
        1, KEY
    ).key_rotation_nonce == 8
    with pytest.raises(AttestationError) as info:
        AttestationVerifier(evidence, nonces, trusted_roots=roots).verify(1, KEY)
    assert info.value.reason == "nonce-mismatch"


def test_default_roots_reject_synthetic(attestor: SyntheticAttestor) -> None:
    verifier = AttestationVerifier(
        CallableEvidenceSource(lambda node: attestor.evidence_for(KEY, 1)), StaticRotationNonceSource(1)
    )
    with pytest.raises(AttestationError) as info:
        verifier.verify(1, KEY)
    assert info.value.reason == "untrusted-root"
