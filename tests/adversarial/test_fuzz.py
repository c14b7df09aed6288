"""Fuzzing the SSE decoder and the envelope decoders with hypothesis: no crash other than the typed errors."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk.confidential.envelope import b64e
from atoma_sdk.local.config import CHAT_MODEL

from .fuzz_targets import any_json, envelope_target, primitives_target, sse_target, stream_target

SSE_LINES = st.sampled_from(
    [
        b"data:",
        b"data: ",
        b"event: x",
        b"id: 1",
        b"retry: 5",
        b": c",
        b"\r\n",
        b"\n",
        b"\r",
        b"\xff",
        b"\xe2\x82",
    ]
)
B64 = st.binary(max_size=80).map(b64e)
FIELD = st.one_of(st.none(), st.integers(), st.text(max_size=40), B64, st.lists(st.integers(), max_size=2))
ENVELOPE = st.fixed_dictionaries(
    {},
    optional={
        "ciphertext": FIELD,
        "nonce": FIELD,
        "response_hash": FIELD,
        "signature": FIELD,
        "usage": FIELD,
    },
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
CHUNK_KEYS = ("id", "object", "created", "model", "choices", "usage")
CHUNKISH = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["a", "b"]),
        "object": st.sampled_from(["chat.completion.chunk", "chat.completion", "x"]),
        "created": st.integers(-1, 3),
        "model": st.sampled_from([CHAT_MODEL, "other"]),
        "choices": st.lists(
            st.fixed_dictionaries(
                {"index": st.integers(-1, 2)},
                optional={
                    "delta": st.fixed_dictionaries({}, optional={"content": st.text(max_size=5)}),
                    "finish_reason": st.sampled_from([None, "stop", "length", "x"]),
                },
            ),
            max_size=2,
        )
        | JSON,
        "usage": st.none() | st.fixed_dictionaries({"completion_tokens": st.integers(0, 3)}) | JSON,
    },
)


@given(st.lists(st.one_of(SSE_LINES, st.binary(max_size=300)), max_size=30), st.lists(st.integers(0, 10_000)))
def test_sse_decoder_fuzz(parts: list[bytes], cuts: list[int]) -> None:
    sse_target(b"".join(parts), cuts)


@given(st.one_of(st.binary(max_size=300), ENVELOPE.map(any_json), JSON.map(any_json)))
def test_envelope_decoder_fuzz(data: bytes) -> None:
    envelope_target(data)


@settings(max_examples=60)
@given(
    st.lists(st.one_of(st.text(max_size=40), ENVELOPE.map(json.dumps), st.just("[DONE]")), max_size=4),
    st.lists(st.one_of(CHUNKISH.map(any_json), JSON.map(any_json), st.binary(max_size=40)), max_size=5),
)
def test_stream_decoder_fuzz(events: list[str], plaintexts: list[bytes]) -> None:
    stream_target(events, plaintexts)


@given(st.one_of(st.text(max_size=200), B64))
def test_primitive_decoders_fuzz(text: str) -> None:
    primitives_target(text)
