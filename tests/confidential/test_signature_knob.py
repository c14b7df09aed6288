"""VerificationPolicy(verify_signatures=False): no signature required or checked, hashes still are."""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk.confidential.envelope import ClientSession, NodeSession, b64e, body_hash, public_key_bytes
from atoma_sdk.confidential.flows import FLOWS
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.confidential.verify import AnswerVerifier
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL
from atoma_sdk.local.model import chat_completion

MESSAGES: list[Any] = [{"role": "user", "content": "Is the signature checked?"}]
OFF = VerificationPolicy(verify_signatures=False, nonce_reuse="ignore")


def _answer(signature: str | None, *, tamper_hash: bool = False) -> tuple[AnswerVerifier, dict[str, Any]]:
    node_private = X25519PrivateKey.generate()
    session = ClientSession.create(b64e(public_key_bytes(node_private)))
    request = session.encrypt_request(json.dumps({"model": CHAT_MODEL, "messages": MESSAGES}).encode())
    node_session, _ = NodeSession.from_request(node_private, request)
    plaintext = json.dumps(chat_completion({"model": CHAT_MODEL, "messages": MESSAGES})).encode()
    ciphertext, nonce = node_session.encrypt(plaintext)
    digest = body_hash(plaintext + (b" " if tamper_hash else b""))
    envelope: dict[str, Any] = {"ciphertext": ciphertext, "nonce": nonce, "response_hash": b64e(digest)}
    if signature is not None:
        envelope["signature"] = signature
    verifier = AnswerVerifier(session, FLOWS["chat"], CHAT_MODEL, OFF, Receipt("op", CHAT_MODEL))
    return verifier, envelope


@pytest.mark.parametrize("signature", [None, "not base64!", b64e(b"\x00" + bytes(96))])
def test_missing_or_bad_signature_is_not_checked(signature: str | None) -> None:
    verifier, envelope = _answer(signature)
    verifier.open(envelope)
    receipt = verifier.receipt
    assert receipt.response_hash_verified and not receipt.signature_verified
    assert receipt.signer_address is None and receipt.signature_scheme is None


def test_the_same_bad_signature_fails_with_the_default_policy() -> None:
    verifier, envelope = _answer(b64e(b"\x00" + bytes(96)))
    verifier.policy = VerificationPolicy()
    with pytest.raises(errors.SignatureError):
        verifier.open(envelope)


def test_hashes_are_still_checked() -> None:
    verifier, envelope = _answer(None, tamper_hash=True)
    with pytest.raises(errors.IntegrityError, match="response hash"):
        verifier.open(envelope)


def test_pins_need_signature_verification() -> None:
    with pytest.raises(ValueError, match="verify_signatures"):
        VerificationPolicy(verify_signatures=False, pinned_signers=frozenset({"0x" + "ab" * 32}))


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture
def sdk(node: LocalNode) -> Iterator[AtomaSDK]:
    node.faults.clear()
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as client:
        yield client


def test_stream_over_loopback_with_signatures_off(sdk: AtomaSDK) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)
        stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, verification=OFF)
        chunks = list(stream)
    assert chunks
    receipt = stream.receipt
    assert receipt.complete and receipt.response_hash_verified
    assert not receipt.signature_verified and receipt.signer_address is None


def test_corrupted_chunk_still_fails_with_signatures_off(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.corrupt_chunk(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)  # signatures off: warned once per SDK
        stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, verification=OFF)
    with pytest.raises(errors.IntegrityError):
        list(stream)


def test_receipt_rides_on_the_result_only(sdk: AtomaSDK) -> None:
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    receipt = result.receipt
    assert receipt is not None and receipt.signature_verified
    assert result.choices[0].receipt is None  # nested models carry none
    assert "receipt" not in json.dumps(result.model_dump(mode="json"))
    for twin in (result.model_copy(), copy.deepcopy(result), pickle.loads(pickle.dumps(result))):
        assert twin.receipt is not None and twin.receipt.to_dict() == receipt.to_dict()
