"""Hypothesis-generated mutation sequences over real confidential streams, judged by an oracle.

The proxy applies a random sequence of operations (drop, duplicate, swap, truncate, fake ``[DONE]``, bit
flips, injected plaintext or foreign chunks) to each stream's events. The oracle says what the SDK must do:
any tampered event -> IntegrityError / SignatureError; data after an end marker -> IntegrityError; a missing
finishing or usage chunk -> StreamTruncatedError; otherwise the stream passes, its text is the surviving
tokens in their delivered order; more chunks with text than the signed ``completion_tokens``: IntegrityError.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk import AtomaSDK, errors
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode
from atoma_sdk.local.model import chat_completion_chunks
from atoma_sdk.local.tamper import Exchange, TamperingProxy, flip_field

from .support import CHAT_PATH, MODEL, make_sdk, messages

FIELDS = ("ciphertext", "nonce", "response_hash", "signature")
Tag = tuple[str, int]  # ("orig", event index) | ("done", 0) | ("tampered", 0)


@dataclass
class Mutator:
    """The ops of the current example, applied to the next stream; keeps the last stream for splicing."""

    ops: list[tuple[Any, ...]] = field(default_factory=list)
    final: list[Tag] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)

    def __call__(self, exchange: Exchange, events: list[str]) -> list[str]:
        if exchange.path != CHAT_PATH:
            return events
        items: list[tuple[Tag, str]] = [(("orig", i), data) for i, data in enumerate(events)]
        for op in self.ops:
            items = _apply(op, items, self.previous)
        self.previous = list(events)
        self.final = [tag for tag, _ in items]
        return [data for _, data in items]


def _apply(op: tuple[Any, ...], items: list[tuple[Tag, str]], previous: list[str]) -> list[tuple[Tag, str]]:
    kind, *args = op
    if kind == "done":
        return [*items, (("done", 0), "[DONE]")]
    if kind == "truncate":
        return items[: args[0]]
    if kind == "splice" and previous:
        at = args[0] % (len(items) + 1)
        return [*items[:at], (("tampered", 0), previous[args[1] % len(previous)]), *items[at:]]
    if kind == "plain":
        at = args[0] % (len(items) + 1)
        chunk = chat_completion_chunks({"model": MODEL, "messages": messages()})[args[1] % 4]
        return [*items[:at], (("tampered", 0), json.dumps(chunk)), *items[at:]]
    if not items:
        return items
    i = args[0] % len(items)
    if kind == "drop":
        return items[:i] + items[i + 1 :]
    if kind == "dup":
        return [*items[: i + 1], items[i], *items[i + 1 :]]
    if kind == "swap":
        j = args[1] % len(items)
        items = list(items)
        items[i], items[j] = items[j], items[i]
        return items
    if kind == "flip" and items[i][0][0] == "orig":
        return [*items[:i], (("tampered", 0), flip_field(items[i][1], args[1], args[2])), *items[i + 1 :]]
    return items


OPS = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 40)),
    st.tuples(st.just("dup"), st.integers(0, 40)),
    st.tuples(st.just("swap"), st.integers(0, 40), st.integers(0, 40)),
    st.tuples(st.just("truncate"), st.integers(0, 20)),
    st.tuples(st.just("done")),
    st.tuples(st.just("flip"), st.integers(0, 40), st.sampled_from(FIELDS), st.integers(0, 8 * 40)),
    st.tuples(st.just("plain"), st.integers(0, 40), st.integers(0, 3)),
    st.tuples(st.just("splice"), st.integers(0, 40), st.integers(0, 40)),
)


@pytest.fixture(scope="module")
def rig(reusing_node: LocalNode) -> Iterator[tuple[Mutator, AtomaSDK]]:
    mutator = Mutator()
    with (
        TamperingProxy(reusing_node.url, mutate_events=mutator) as proxy,
        make_sdk(proxy.url, reusing_node) as sdk,
    ):
        sdk.confidential_chat.create_stream(messages=messages(), model=MODEL).text()  # fills ``previous``
        yield mutator, sdk


def _expected(final: list[Tag], tokens: list[str], signed: int) -> tuple[type[Exception] | None, str]:
    """(error class or None, text) for a delivered sequence of events."""
    usage_index = len(tokens)
    done = False
    for kind, _ in final:
        if kind == "tampered":
            return errors.ConfidentialError, ""
        if done:
            return errors.IntegrityError, ""
        done = kind == "done"
    present = {index for kind, index in final if kind == "orig"}
    if usage_index - 1 not in present or usage_index not in present:
        return errors.StreamTruncatedError, ""
    contents = [tokens[index] for kind, index in final if kind == "orig" and index < usage_index]
    if len([text for text in contents if text]) > signed:
        return errors.IntegrityError, ""
    return None, "".join(contents)


@settings(max_examples=60)
@given(ops=st.lists(OPS, max_size=6))
def test_mutated_streams_follow_the_oracle(rig: tuple[Mutator, AtomaSDK], ops: list[tuple[Any, ...]]) -> None:
    mutator, sdk = rig
    mutator.ops = ops
    chunks = chat_completion_chunks({"model": MODEL, "messages": messages()})
    tokens = [c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]]
    text, receipt, raised = "", None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)
        try:
            stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
            text, receipt = stream.text(), stream.receipt
        except errors.AtomaError as exc:
            raised = exc
    error, expected_text = _expected(mutator.final, tokens, chunks[-1]["usage"]["completion_tokens"])
    if error is None:
        assert raised is None, f"{mutator.final}: unexpected {raised!r}"
        assert receipt is not None and receipt.complete
        assert text == expected_text
        assert receipt.chunk_count_within_bound is True
    else:
        assert isinstance(raised, error), f"{mutator.final}: expected {error.__name__}, got {raised!r}"
        if error is errors.ConfidentialError:
            assert isinstance(raised, errors.IntegrityError | errors.SignatureError)
