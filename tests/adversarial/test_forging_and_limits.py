"""Key substitution (forging and relaying proxies), and what the protocol cannot detect, shown by tests.

- A proxy that hands out its own X25519 key and answers itself is caught by pinning the node's Sui signer.
- A proxy that substitutes the key and *relays* to the real node reads the prompt, yet every answer verifies
  (even pinned): only attestation of the node key (``VerificationPolicy(attestation="enforce")``) closes that.
- A duplicated or reordered chunk of the same stream is indistinguishable from repeated tokens; the receipt's
  chunk-count check flags a duplicate or a drop when ``usage.completion_tokens`` disagrees.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from atoma_sdk import VerificationPolicy, errors
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode
from atoma_sdk.local.tamper import Exchange, Relayed

from .support import CHAT_PATH, MODEL, expected_text, messages, proxied

PROMPT = "my SSN is 078-05-1120"


def _pinned(node: LocalNode, **changes: Any) -> VerificationPolicy:
    return VerificationPolicy(
        pinned_signers=frozenset({node.signer_address}), nonce_reuse="ignore", **changes
    )


def test_unpinned_forging_proxy_is_only_visible_in_the_receipt(node: LocalNode) -> None:
    """The limit without a pin or attestation: the forged answer verifies against the proxy's key."""
    with proxied(node, forge="answer") as (proxy, sdk):
        answer = sdk.confidential_chat.create(messages=messages(PROMPT), model=MODEL)
    assert answer.choices[0].message.content == "FORGED BY PROXY"
    assert answer.receipt.signer_address == proxy.signer.address != node.signer_address
    assert answer.receipt.signer_pinned is None
    assert any(PROMPT.encode() in p for p in proxy.captured)


@pytest.mark.parametrize("stream", [False, True])
def test_pinned_signer_rejects_a_forging_proxy(node: LocalNode, stream: bool) -> None:
    with proxied(node, forge="answer", sdk_verification=_pinned(node)) as (proxy, sdk):
        with pytest.raises(errors.SignatureError, match="not pinned"):
            if stream:
                sdk.confidential_chat.create_stream(messages=messages(PROMPT), model=MODEL).text()
            else:
                sdk.confidential_chat.create(messages=messages(PROMPT), model=MODEL)
        # Pinning protects the answer, not the prompt: the forger has read it anyway.
        assert any(PROMPT.encode() in p for p in proxy.captured)


@pytest.mark.parametrize("stream", [False, True])
def test_relaying_proxy_reads_the_prompt_although_answers_verify(node: LocalNode, stream: bool) -> None:
    """The protocol's limit: a key-substituting relay passes every client-side check, pinning included."""
    with proxied(node, forge="relay", sdk_verification=_pinned(node)) as (proxy, sdk):
        if stream:
            result = sdk.confidential_chat.create_stream(messages=messages(PROMPT), model=MODEL)
            text, receipt = result.text(), result.receipt
        else:
            answer = sdk.confidential_chat.create(messages=messages(PROMPT), model=MODEL)
            text, receipt = answer.choices[0].message.content, answer.receipt
    assert text == expected_text(PROMPT)
    assert receipt.signer_address == node.signer_address and receipt.signer_pinned is True
    assert receipt.node_public_key != node.public_key, "the only trace: the key the client sealed to"
    assert receipt.attestation == "unauthenticated"
    assert any(PROMPT.encode() in p for p in proxy.captured)


def test_key_holding_splice_of_another_streams_chunk(node: LocalNode) -> None:
    """A relay holding the key re-encrypts a node-signed chunk of another stream: the id check catches it."""

    def splice(exchange: Exchange, chunks: list[Relayed]) -> list[Relayed]:
        if len(relayed) < 2:
            return chunks
        return [chunks[0], relayed[0][1], *chunks[2:]]

    with proxied(node, forge="relay", mutate_relayed=splice, sdk_verification=_pinned(node)) as (proxy, sdk):
        relayed = proxy.relayed
        sdk.confidential_chat.create_stream(messages=messages("first"), model=MODEL).text()
        with pytest.raises(errors.IntegrityError, match="another stream"):
            sdk.confidential_chat.create_stream(messages=messages("second"), model=MODEL).text()


def test_key_holding_rewrite_signed_by_the_proxy_fails_the_pin(node: LocalNode) -> None:
    def rewrite(exchange: Exchange, chunks: list[Relayed]) -> list[Relayed]:
        answer = json.loads(chunks[0].plaintext)
        answer["choices"][0]["message"]["content"] = "rewritten"
        return [proxy.signed_by_proxy(json.dumps(answer).encode())]

    policy = _pinned(node)
    with (
        proxied(node, forge="relay", mutate_relayed=rewrite, sdk_verification=policy) as (proxy, sdk),
        pytest.raises(errors.SignatureError),
    ):
        sdk.confidential_chat.create(messages=messages(), model=MODEL)


# -- the stream limits -------------------------------------------------------------------------------------


def test_duplicated_chunk_passes_but_the_chunk_count_flags_it(reusing_node: LocalNode) -> None:
    """With today's nonce reuse a duplicated chunk is byte-identical to an honest repeated token."""
    seen: list[list[str]] = []

    def duplicate(exchange: Exchange, events: list[str]) -> list[str]:
        seen.append(events)
        return [*events[:5], events[4], *events[5:]] if exchange.path == CHAT_PATH else events

    with proxied(reusing_node, mutate_events=duplicate) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        with pytest.warns(ConfidentialityWarning, match="content chunks"):
            text = stream.text()
    honest = seen[0]
    assert honest[2] == honest[3], "the model repeats its second token: identical bytes on the wire"
    assert text != expected_text() and stream.receipt.complete
    assert stream.receipt.chunk_count_matches is False
    assert "chunk-count-mismatch" in stream.receipt.warnings


def test_dropped_content_chunk_is_flagged_by_the_chunk_count(node: LocalNode) -> None:
    def drop(exchange: Exchange, events: list[str]) -> list[str]:
        return [*events[:4], *events[5:]] if exchange.path == CHAT_PATH else events

    with proxied(node, mutate_events=drop) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        with pytest.warns(ConfidentialityWarning, match="dropped or duplicated"):
            stream.text()
    assert stream.receipt.chunk_count_matches is False


def test_reordered_chunks_are_undetectable(node: LocalNode) -> None:
    """Swapping two distinct content chunks of one stream: every check passes (no sequence number exists)."""

    def swap(exchange: Exchange, events: list[str]) -> list[str]:
        if exchange.path != CHAT_PATH:
            return events
        events = list(events)
        events[4], events[5] = events[5], events[4]
        return events

    with proxied(node, mutate_events=swap) as (_, sdk):
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        text = stream.text()
    assert stream.receipt.complete and stream.receipt.chunk_count_matches is True
    assert sorted(text.split()) == sorted(expected_text().split())


def test_duplicate_under_unique_nonces_is_caught_by_the_nonce_check(node: LocalNode) -> None:
    """With a nonce per chunk, a replayed chunk repeats a nonce: ``nonce_reuse="raise"`` stops it."""

    def duplicate(exchange: Exchange, events: list[str]) -> list[str]:
        return [*events[:3], events[2], *events[3:]] if exchange.path == CHAT_PATH else events

    policy = VerificationPolicy(nonce_reuse="raise")
    with proxied(node, mutate_events=duplicate, sdk_verification=policy) as (_, sdk):
        honest = sdk.confidential_chat.create_stream(messages=messages("x"), model=MODEL, verification=policy)
        with pytest.raises(errors.NonceReuseError):
            honest.text()
