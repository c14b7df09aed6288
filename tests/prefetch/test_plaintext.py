"""Randomised request plaintexts: parse-equal, hash-different, entropy, padding buckets (property tests)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atoma_sdk import VerificationPolicy, errors
from atoma_sdk.confidential import plaintext
from atoma_sdk.confidential.envelope import body_hash

WHITESPACE = frozenset(b" \t\n\r")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
bodies = st.dictionaries(st.text(), json_values, max_size=6)


def compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@given(bodies)
def test_randomised_bytes_parse_equal_to_the_compact_json(body: dict[str, Any]) -> None:
    raw = compact(body)
    randomised = plaintext.randomise(raw)
    assert randomised != raw
    assert json.loads(randomised) == json.loads(raw)
    assert len(randomised) == len(raw) + plaintext.NOISE_BITS // 2


@given(bodies)
def test_two_serialisations_of_one_body_differ_in_hash(body: dict[str, Any]) -> None:
    raw = compact(body)
    assert body_hash(plaintext.randomise(raw)) != body_hash(plaintext.randomise(raw))


@given(bodies)
def test_only_whitespace_is_added_and_strings_are_untouched(body: dict[str, Any]) -> None:
    raw = compact(body)
    randomised = plaintext.randomise(raw)
    # Removing the added bytes gives back the compact JSON: walk both, skipping added whitespace.
    i = 0
    for byte in randomised:
        if i < len(raw) and byte == raw[i]:
            i += 1
        else:
            assert byte in WHITESPACE
    assert i == len(raw)


def test_whitespace_never_lands_inside_tricky_strings() -> None:
    body = {"k{,:[": 'a"{,:\\"[', "messages": [{"content": "x,y:z{", "role": "user"}], "n": [1, 2, {}]}
    for _ in range(50):
        assert json.loads(plaintext.randomise(compact(body))) == body


@pytest.mark.parametrize("shift", range(8))
def test_a_string_cut_by_the_scan_limit_is_not_mistaken_for_structure(shift: int) -> None:
    # Structural bytes and escapes inside a string that crosses SCAN_BYTES, cut at every phase.
    body = {"a": "p" * shift + ',:{["\\' * 1000, "b": [1, {"c": 2}]}
    for _ in range(20):
        assert json.loads(plaintext.randomise(compact(body))) == body


def test_noise_has_at_least_128_bits_of_uniform_entropy() -> None:
    assert plaintext.NOISE_BITS >= 128
    samples = [plaintext.noise() for _ in range(2000)]
    # Each noise character is one of four JSON whitespace symbols: 2 bits when uniform.
    assert all(len(s) * 2 == plaintext.NOISE_BITS and set(s) <= WHITESPACE for s in samples)
    assert len(set(samples)) == len(samples)
    counts = Counter(b for s in samples for b in s)
    total = sum(counts.values())
    assert set(counts) == WHITESPACE
    # Each symbol's share is 1/4 +- 0.01 (the standard deviation here is ~0.0007).
    assert all(abs(count / total - 0.25) < 0.01 for count in counts.values())
    # Per-position uniformity too: no position is stuck on one symbol.
    for position in range(len(samples[0])):
        column = Counter(s[position] for s in samples)
        assert max(column.values()) / len(samples) < 0.35


def test_long_bodies_are_noised_near_the_start_without_a_full_rescan() -> None:
    body = {"messages": [{"role": "user", "content": "x," * 200_000}], "model": "m", "a": list(range(100))}
    raw = compact(body)
    randomised = plaintext.randomise(raw)
    assert json.loads(randomised) == body
    assert len(randomised) - len(raw) == plaintext.NOISE_BITS // 2


@given(st.integers(min_value=0, max_value=20_000), st.sampled_from([1, 7, 1024, 4096]))
def test_padding_rounds_up_to_the_bucket(length: int, bucket: int) -> None:
    padded = plaintext.pad(b"{" + b"x" * length, bucket)
    assert len(padded) % bucket == 0
    assert length + 1 <= len(padded) < length + 1 + bucket
    assert set(padded[length + 1 :]) <= {0x20}


def test_padding_with_a_callable_and_its_errors() -> None:
    def buckets(n: int) -> int:
        return next(size for size in (1024, 4096, 16384, 1 << 30) if size >= n)

    assert len(plaintext.pad(b"{}", buckets)) == 1024
    assert len(plaintext.pad(b"x" * 2000, buckets)) == 4096
    with pytest.raises(errors.RequestValidationError):
        plaintext.pad(b"{}", lambda n: n - 1)


def test_prepare_follows_the_policy_knobs() -> None:
    raw = compact({"model": "m"})
    assert plaintext.prepare(raw, randomize=False, pad_to=None) == raw
    assert len(plaintext.prepare(raw, randomize=True, pad_to=512)) == 512
    assert json.loads(plaintext.prepare(raw, randomize=True, pad_to=512)) == {"model": "m"}


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "4096"])
def test_policy_rejects_bad_pad_to(bad: Any) -> None:
    with pytest.raises(ValueError, match="pad_to"):
        VerificationPolicy(pad_to=bad)


def test_policy_defaults_randomise_without_padding() -> None:
    policy = VerificationPolicy()
    assert policy.randomize_plaintext is True and policy.pad_to is None
