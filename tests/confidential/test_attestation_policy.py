"""The attestation gate and node-key pins in the confidential flow, against the local node."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk.attestation import AttestationVerifier, CallableEvidenceSource, StaticRotationNonceSource
from atoma_sdk.attestation.synthetic import SyntheticAttestor
from atoma_sdk.confidential.keys import NodeKeyPins
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL

MESSAGES = [{"role": "user", "content": "attest first"}]
ROTATION_NONCE = 0x1234_5678_9ABC


class Paths:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
        self.seen.append(request.url.path)
        return request


@pytest.fixture(scope="module")
def attestor() -> SyntheticAttestor:
    return SyntheticAttestor.generate(devices=2)


@pytest.fixture
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture
def paths() -> Paths:
    return Paths()


@pytest.fixture
def sdk(node: LocalNode, paths: Paths) -> Iterator[AtomaSDK]:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, hooks=[paths], retry_config=None) as client:
        yield client


def verifier_for(
    attestor: SyntheticAttestor, key_of: Any, nonce: int = ROTATION_NONCE
) -> AttestationVerifier:
    """Evidence that commits to ``key_of()`` (the node's key, or a substitute) under a test root."""
    return AttestationVerifier(
        CallableEvidenceSource(lambda _node_id: attestor.evidence_for(key_of(), ROTATION_NONCE)),
        StaticRotationNonceSource(nonce, counter=7),
        trusted_roots=[attestor.root_pem],
        min_devices=2,
    )


def node_key(node: LocalNode) -> bytes:
    return base64.b64decode(node.public_key)


def test_enforce_without_a_source_sends_no_prompt(sdk: AtomaSDK, paths: Paths) -> None:
    with pytest.raises(errors.AttestationError) as info:
        sdk.confidential_chat.create(
            messages=MESSAGES, model=CHAT_MODEL, verification=VerificationPolicy(attestation="enforce")
        )
    assert info.value.reason == "source-unavailable"
    assert "/v1/confidential/chat/completions" not in paths.seen


def test_enforce_with_honest_evidence(sdk: AtomaSDK, node: LocalNode, attestor: SyntheticAttestor) -> None:
    policy = VerificationPolicy(
        attestation="enforce", attestation_verifier=verifier_for(attestor, lambda: node_key(node))
    )
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    receipt = result.receipt
    assert receipt is not None and receipt.attestation == "verified"
    assert receipt.attestation_report is not None and receipt.attestation_report["gpu_count"] == 2
    assert json.loads(receipt.to_json())["attestation"] == "verified"


def test_substituted_key_is_refused_after_one_relock(
    sdk: AtomaSDK, node: LocalNode, paths: Paths, attestor: SyntheticAttestor
) -> None:
    other_key = bytes(range(32))
    policy = VerificationPolicy(
        attestation="enforce", attestation_verifier=verifier_for(attestor, lambda: other_key)
    )
    with pytest.raises(errors.AttestationError) as info:
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert info.value.reason == "nonce-mismatch"
    assert paths.seen.count("/v1/nodes/lock") == 2
    assert "/v1/confidential/chat/completions" not in paths.seen


def test_a_relock_after_a_nonce_mismatch_is_not_an_attempt(
    sdk: AtomaSDK, node: LocalNode, paths: Paths, attestor: SyntheticAttestor
) -> None:
    keys = [bytes(range(32))]  # the first lock's evidence commits to another key (a rotation race)

    def key_of() -> bytes:
        return keys.pop() if keys else node_key(node)

    policy = VerificationPolicy(attestation="enforce", attestation_verifier=verifier_for(attestor, key_of))
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert result.receipt is not None and result.receipt.attestation == "verified"
    assert paths.seen.count("/v1/nodes/lock") == 2 and result.receipt.attempts == 1


def test_wrong_rotation_nonce_is_refused(sdk: AtomaSDK, node: LocalNode, attestor: SyntheticAttestor) -> None:
    verifier = verifier_for(attestor, lambda: node_key(node), nonce=ROTATION_NONCE + 1)
    with pytest.raises(errors.AttestationError):
        sdk.confidential_chat.create(
            messages=MESSAGES,
            model=CHAT_MODEL,
            verification=VerificationPolicy(attestation_verifier=verifier),
        )


@pytest.mark.anyio
async def test_enforce_async(sdk: AtomaSDK, node: LocalNode, attestor: SyntheticAttestor) -> None:
    policy = VerificationPolicy(
        attestation="enforce", attestation_verifier=verifier_for(attestor, lambda: node_key(node))
    )
    result = await sdk.confidential_chat.create_async(
        messages=MESSAGES, model=CHAT_MODEL, verification=policy
    )
    assert result.receipt is not None and result.receipt.attestation == "verified"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_trust_on_first_use_alarms_on_an_unattested_key_change(sdk: AtomaSDK, node: LocalNode) -> None:
    policy = VerificationPolicy(attestation="off", node_key_pins=NodeKeyPins())
    first = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert first.receipt is not None and first.receipt.key_pinned is True
    node.rotate_key()
    with pytest.raises(errors.KeyMismatchError):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)


def test_explicit_pins() -> None:
    pins = NodeKeyPins({1: "a"}, trust_on_first_use=False)
    assert pins.check(1, "a") is True
    assert pins.check(2, "b") is False
    with pytest.raises(errors.KeyMismatchError):
        pins.check(1, "b", rotation_counter=3)
    pins.check(1, "a", rotation_counter=3)
    assert pins.check(1, "b", rotation_counter=4) is True
    assert pins.pinned() == {1: "b"}


def test_enforce_end_to_end_against_the_local_nodes_evidence(sdk: AtomaSDK, node: LocalNode) -> None:
    policy = VerificationPolicy(attestation="enforce", attestation_verifier=node.attestation_verifier())
    first = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert first.receipt is not None and first.receipt.attestation == "verified"
    info = httpx.get(node.url + "/_local/attestation").json()
    assert info["root_pem"].startswith("-----BEGIN CERTIFICATE-----")
    node.rotate_key()  # the evidence follows the new key
    second = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert second.receipt is not None and second.receipt.attestation == "verified"
    assert second.receipt.node_public_key != first.receipt.node_public_key
    assert httpx.get(node.url + "/v1/get_node_attestation/99").status_code == 404
