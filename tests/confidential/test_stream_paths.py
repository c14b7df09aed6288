"""The per-chunk path of a confidential stream against reference behaviour.

The verifier checks a known signer's later signatures on a shorter path than the first one, and the
accumulator reads deltas without helper calls: these tests pin both to what the long form decides (the
same typed errors for hostile chunks, the same final completion for any mix of deltas).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk import VerificationPolicy, errors
from atoma_sdk._runtime.serde import resolve
from atoma_sdk.confidential.envelope import ClientSession, NodeSession, b64e, body_hash
from atoma_sdk.confidential.flows import FLOWS
from atoma_sdk.confidential.receipt import Receipt
from atoma_sdk.confidential.sui import SuiKeyPair
from atoma_sdk.confidential.verify import AnswerVerifier, StreamVerifier, carries_tokens
from atoma_sdk.structured.accumulate import ChunkAccumulator

MODEL = "m"
HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
KEY_A, KEY_B = SuiKeyPair.from_seed(b"a" * 32), SuiKeyPair.from_seed(b"b" * 32)


def _pair(policy: VerificationPolicy) -> tuple[StreamVerifier, NodeSession]:
    key, request_hash = os.urandom(32), os.urandom(32)
    session = ClientSession(os.urandom(32), None, os.urandom(16))
    session._aead = AESGCM(key)  # the key the "node" below encrypts with
    session.request_hash = request_hash
    verifier = AnswerVerifier(session, FLOWS["chat"], MODEL, policy, Receipt("op", MODEL))
    return StreamVerifier(verifier, token_limit=16), NodeSession(AESGCM(key), request_hash)


def _event(node: NodeSession, content: str, signer: SuiKeyPair | None) -> str:
    chunk = {**HEAD, "choices": [{"index": 0, "delta": {"content": content}}]}
    plaintext = json.dumps(chunk).encode()
    ciphertext, nonce = node.encrypt(plaintext)
    envelope = {"ciphertext": ciphertext, "nonce": nonce, "response_hash": b64e(body_hash(plaintext))}
    if signer is not None:
        envelope["signature"] = signer.sign_hash(body_hash(plaintext))
    return json.dumps(envelope)


def _forged(node: NodeSession, signer: SuiKeyPair) -> str:
    """A chunk whose signature, by ``signer``, is over another hash."""
    envelope = json.loads(_event(node, "x", None))
    envelope["signature"] = signer.sign_hash(body_hash(b"another answer"))
    return json.dumps(envelope)


@pytest.mark.parametrize(
    ("policy", "signers", "error", "match"),
    [
        (VerificationPolicy(), [KEY_A, KEY_A, KEY_A], None, None),
        (VerificationPolicy(), [KEY_A, KEY_A, KEY_B], errors.SignatureError, "different keys"),
        (VerificationPolicy(), [KEY_A, None], errors.SignatureError, "not signed"),
        (VerificationPolicy(), [None], errors.SignatureError, "not signed"),
        (VerificationPolicy(require_signature=False), [KEY_A, None, KEY_A], None, None),
        (
            VerificationPolicy(require_signature=False),
            [None, KEY_A, KEY_B],
            errors.SignatureError,
            "different",
        ),
        (VerificationPolicy(verify_signatures=False), [KEY_A, KEY_B, None], None, None),
        (VerificationPolicy(pinned_signers=frozenset({KEY_A.address})), [KEY_A, KEY_A], None, None),
        (
            VerificationPolicy(pinned_signers=frozenset({KEY_B.address})),
            [KEY_A],
            errors.SignatureError,
            "not pinned",
        ),
    ],
)
def test_signers_across_chunks(
    policy: VerificationPolicy,
    signers: list[SuiKeyPair | None],
    error: type[Exception] | None,
    match: str | None,
) -> None:
    stream, node = _pair(policy)
    *head, last = signers
    for signer in head:
        stream.decode(_event(node, "x", signer))
    if error is None:
        stream.decode(_event(node, "x", last))
    else:
        with pytest.raises(error, match=match):
            stream.decode(_event(node, "x", last))
    if error is None:
        receipt = stream.receipt
        assert receipt.signature_verified is (policy.verify_signatures and all(signers))
        first = signers[0]
        if policy.verify_signatures and first is not None:
            assert receipt.signer_address == first.address


def test_a_refused_first_signer_is_refused_again_as_not_pinned() -> None:
    """The signer is not known after a refusal: the next chunk takes the first-signature path again."""
    stream, node = _pair(VerificationPolicy(pinned_signers=frozenset({KEY_B.address})))
    for _ in range(2):
        with pytest.raises(errors.SignatureError, match="not pinned"):
            stream.decode(_event(node, "x", KEY_A))
    assert stream.receipt.signer_pinned is False and stream.verifier.signer is None


@pytest.mark.parametrize("later", [0, 2], ids=["first chunk", "after the signer is known"])
def test_a_forged_signature_fails_on_either_path(later: int) -> None:
    stream, node = _pair(VerificationPolicy())
    for _ in range(later):
        stream.decode(_event(node, "x", KEY_A))
    with pytest.raises(errors.SignatureError, match="does not verify"):
        stream.decode(_forged(node, KEY_A))


def _unhashed(node: NodeSession) -> str:
    envelope = json.loads(_event(node, "x", None))
    del envelope["response_hash"]
    return json.dumps(envelope)


def test_a_missing_hash_is_refused_or_recorded() -> None:
    stream, node = _pair(VerificationPolicy(verify_signatures=False))
    with pytest.raises(errors.IntegrityError, match="no response hash"):
        stream.decode(_unhashed(node))
    stream, node = _pair(VerificationPolicy(verify_signatures=False, require_response_hash=False))
    stream.decode(_unhashed(node))
    assert stream.receipt.response_hash_verified is False


# -- the token-carrying test and the accumulator against their long forms --

_texts = st.one_of(st.none(), st.sampled_from(["", "a", " b"]))
_calls = st.lists(
    st.fixed_dictionaries(
        {
            "index": st.integers(0, 1),
            "function": st.fixed_dictionaries({"name": _texts, "arguments": _texts}),
        },
        optional={"id": st.sampled_from(["c1", "c2"]), "type": st.just("function")},
    ),
    max_size=2,
)
_deltas = st.fixed_dictionaries(
    {},
    optional={
        "content": _texts,
        "reasoning_content": _texts,
        "refusal": _texts,
        "role": st.just("assistant"),
        "tool_calls": st.one_of(st.none(), _calls),
    },
)
_choices = st.fixed_dictionaries(
    {"index": st.integers(0, 2), "delta": _deltas},
    optional={"finish_reason": st.one_of(st.none(), st.sampled_from(["stop", "length"]))},
)
_chunks = st.lists(st.lists(_choices, max_size=3), min_size=1, max_size=6)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _carries(choice: dict[str, Any]) -> bool:
    delta = choice["delta"]
    if _is_text(delta.get("content")) or _is_text(delta.get("reasoning_content")):
        return True
    return any(
        _is_text(call["function"].get("name")) or _is_text(call["function"].get("arguments"))
        for call in delta.get("tool_calls") or []
    )


def _expected(chunks: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The final completion, computed from the chunks' JSON."""
    choices: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[int, dict[str, Any]]] = {}
    for chunk in chunks:
        for choice in chunk:
            index, delta = choice["index"], choice["delta"]
            acc = choices.setdefault(index, {"texts": {}, "finish_reason": None})
            for key in ("content", "refusal", "reasoning_content"):
                if isinstance(delta.get(key), str):
                    acc["texts"][key] = acc["texts"].get(key, "") + delta[key]
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(index, {}).setdefault(
                    call["index"], {"id": "", "type": "function", "name": "", "arguments": ""}
                )
                slot["id"] = call.get("id") or slot["id"]
                slot["type"] = call.get("type") or slot["type"]
                slot["name"] += call["function"].get("name") or ""
                slot["arguments"] += call["function"].get("arguments") or ""
            if isinstance(choice.get("finish_reason"), str):
                acc["finish_reason"] = choice["finish_reason"]
    out = []
    for index in sorted(choices):
        message: dict[str, Any] = {"role": "assistant", "content": None, **choices[index]["texts"]}
        if calls.get(index):
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": c["type"],
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for _, c in sorted(calls[index].items())
            ]
        out.append({"index": index, "message": message, "finish_reason": choices[index]["finish_reason"]})
    return {"choices": out}


@settings(max_examples=150, deadline=None)
@given(_chunks)
def test_carries_tokens_and_the_accumulator_match_their_long_forms(
    chunks: list[list[dict[str, Any]]],
) -> None:
    item_model = resolve("ChatCompletionStreamResponse")
    items = [item_model.model_validate({"data": {**HEAD, "choices": choices}}) for choices in chunks]
    for item, choices in zip(items, chunks, strict=True):
        assert [carries_tokens(c) for c in item.data.choices] == [_carries(c) for c in choices]
    accumulator = ChunkAccumulator()
    for item in items:
        accumulator.add(item)
    data = accumulator.data()
    got = [
        {"index": c["index"], "message": c["message"], "finish_reason": c["finish_reason"]}
        for c in data["choices"]
    ]
    assert {"choices": got} == _expected(chunks)
    completion = accumulator.completion()
    assert type(completion) is resolve("ChatCompletionResponse")
    assert completion.model_dump(mode="json", by_alias=True, exclude_unset=True)["choices"] == data["choices"]
