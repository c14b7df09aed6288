"""The chunk-count bound (protocol.md §12.2) on vLLM-like streams from a scripted engine behind a real node.

Honest streams (any n, several tokens per chunk, empty chunks, a role-only first chunk, tool-call deltas, the
EOS token in ``completion_tokens``) never trip it; duplicating chunks past the signed ``completion_tokens``
or past one choice's ``max_tokens`` always does, whatever the chunking.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL
from atoma_sdk.local.tamper import Exchange, TamperingProxy

from .fake_engine import FakeEngine, node_with_engine

CHAT_PATH = "/v1/confidential/chat/completions"
COMPLETIONS_PATH = "/v1/confidential/completions"
MESSAGES = [{"role": "user", "content": "hi"}]
QUIET = VerificationPolicy(nonce_reuse="ignore", attestation="off")
PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

Json = dict[str, Any]


@dataclass
class Script:
    """One honest engine stream: its chunks (usage chunk last) and what the node signs."""

    chunks: list[Json]
    completion_tokens: int
    max_tokens: int | None
    #: Per chunk, the choices it carries tokens for.
    counted: list[list[int]]


def _chunk(object_: str, choices: list[Json], usage: Json | None = None) -> Json:
    chunk: Json = {"id": "cmpl-1", "object": object_, "created": 1, "model": CHAT_MODEL, "choices": choices}
    if usage is not None:
        chunk["usage"] = usage
    return chunk


@st.composite
def honest_streams(draw: st.DrawFn, *, chat: bool = True) -> Script:
    """A vLLM-like stream: per choice, tokens grouped into chunks of 1-4, empty chunks, tool-call pieces."""
    n = draw(st.integers(1, 3))
    pieces: list[tuple[int, Json, bool]] = []  # (choice, delta or text choice fields, carries tokens)
    total = 0
    limits: list[int] = []
    for index in range(n):
        tokens = 0
        if chat:
            pieces.append((index, {"delta": {"role": "assistant", "content": ""}}, False))
        for _ in range(draw(st.integers(1, 6))):
            kinds = ["text", "text", "empty", "reasoning", "tool"] if chat else ["text", "empty"]
            kind = draw(st.sampled_from(kinds))
            size = draw(st.integers(1, 4))
            if kind == "empty":
                fields: Json = {"delta": {"content": ""}} if chat else {"text": ""}
                pieces.append((index, fields, False))
                continue
            tokens += size
            if not chat:
                pieces.append((index, {"text": "t" * size}, True))
            elif kind == "text":
                pieces.append((index, {"delta": {"content": "t" * size}}, True))
            elif kind == "reasoning":
                pieces.append((index, {"delta": {"reasoning_content": "r" * size}}, True))
            else:
                # The API schema wants id and type on every tool-call delta (vLLM sends them on the first).
                function = {"name": "f" * size} if draw(st.booleans()) else {"arguments": "{" * size}
                call = {"index": 0, "id": "call_1", "type": "function", "function": function}
                pieces.append((index, {"delta": {"tool_calls": [call]}}, True))
        finish: Json = {"delta": {}} if chat else {"text": ""}
        pieces.append((index, {**finish, "finish_reason": "stop"}, False))
        eos = draw(st.integers(0, 1))
        total += tokens + eos
        limits.append(tokens + eos + draw(st.integers(0, 2)))
    # Interleave the choices' pieces, keeping each choice's own order.
    order = draw(st.permutations([p[0] for p in pieces]))
    queues = {i: [p for p in pieces if p[0] == i] for i in range(n)}
    object_ = "chat.completion.chunk" if chat else "text_completion"
    chunks, counted = [], []
    for index in order:
        choice, fields, carries = queues[index].pop(0)
        chunks.append(_chunk(object_, [{"index": choice, "finish_reason": None, **fields}]))
        counted.append([choice] if carries else [])
    usage = {"prompt_tokens": 3, "completion_tokens": total, "total_tokens": total + 3}
    chunks.append(_chunk(object_, [], usage))
    counted.append([])
    max_tokens = max(limits) if draw(st.booleans()) else None
    return Script(chunks, total, max_tokens, counted)


class Duplicator:
    """Repeats stream events on the wire: ``plan`` maps an event index to how many extra copies to send."""

    def __init__(self) -> None:
        self.plan: dict[int, int] = {}

    def __call__(self, exchange: Exchange, events: list[str]) -> list[str]:
        if exchange.path not in (CHAT_PATH, COMPLETIONS_PATH):
            return events
        out: list[str] = []
        for index, event in enumerate(events):
            out.extend([event] * (1 + self.plan.get(index, 0)))
        return out


@pytest.fixture(scope="module")
def rig() -> Iterator[tuple[FakeEngine, Duplicator, AtomaSDK]]:
    duplicator = Duplicator()
    with (
        node_with_engine(unique_chunk_nonces=True) as (node, engine),
        TamperingProxy(node.url, mutate_events=duplicator) as proxy,
        AtomaSDK(
            bearer_auth=node.api_key, server_url=proxy.url, verification=QUIET, retry_config=None
        ) as sdk,
    ):
        yield engine, duplicator, sdk


def _stream(sdk: AtomaSDK, script: Script, *, chat: bool = True, **kwargs: Any) -> Any:
    if script.max_tokens is not None:
        kwargs["max_tokens"] = script.max_tokens
    if chat:
        return sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, **kwargs)
    policy = QUIET.with_(completions_stream="native")
    return sdk.confidential_completions.create_stream(
        prompt="hi", model=CHAT_MODEL, verification=policy, **kwargs
    )


@PROPERTY
@given(script=honest_streams())
def test_honest_chat_streams_never_trip(rig: Any, script: Script) -> None:
    engine, duplicator, sdk = rig
    engine.chunks, duplicator.plan = script.chunks, {}
    stream = _stream(sdk, script)
    items = list(stream)
    receipt = stream.receipt
    assert receipt.complete and receipt.chunk_count_within_bound is True
    assert receipt.content_chunks == sum(len(c) for c in script.counted) <= script.completion_tokens
    assert len(items) == len(script.chunks) - 1


@PROPERTY
@given(script=honest_streams(chat=False))
def test_honest_native_completions_streams_never_trip(rig: Any, script: Script) -> None:
    engine, duplicator, sdk = rig
    engine.chunks, duplicator.plan = script.chunks, {}
    stream = _stream(sdk, script, chat=False)
    list(stream)
    assert stream.receipt.complete and stream.receipt.chunk_count_within_bound is True


@PROPERTY
@given(script=honest_streams(), data=st.data())
def test_duplicates_past_a_bound_always_trip(rig: Any, script: Script, data: st.DataObject) -> None:
    engine, duplicator, sdk = rig
    last = len(script.chunks) - 1  # the usage chunk is never duplicated here
    plan = data.draw(
        st.dictionaries(st.integers(0, last - 1), st.integers(1, 8), max_size=4), label="extra copies"
    )
    engine.chunks, duplicator.plan = script.chunks, plan
    per_choice: dict[int, int] = {}
    for index, choices in enumerate(script.counted):
        for choice in choices:
            per_choice[choice] = per_choice.get(choice, 0) + 1 + plan.get(index, 0)
    total = sum(per_choice.values())
    over_limit = script.max_tokens is not None and max(per_choice.values(), default=0) > script.max_tokens
    exceeds = total > script.completion_tokens or over_limit
    try:
        stream = _stream(sdk, script)
        list(stream)
    except errors.IntegrityError as exc:
        assert exceeds, f"an honest count tripped: {exc}"
        assert "duplicated or replayed" in str(exc)
        return
    assert not exceeds, f"{total} counted chunks for {script.completion_tokens} tokens passed"
    assert stream.receipt.chunk_count_within_bound is True


def _exceeding(script: Script) -> dict[int, int]:
    """Copies of the first chunk with text that push the count just past ``completion_tokens``."""
    first = next(i for i, choices in enumerate(script.counted) if choices)
    counted = sum(len(c) for c in script.counted)
    return {first: script.completion_tokens - counted + 1}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=honest_streams())
def test_warn_and_off_policies(rig: Any, script: Script) -> None:
    engine, duplicator, sdk = rig
    assume(any(script.counted))  # a stream of empty chunks only has no chunk to duplicate
    engine.chunks, duplicator.plan = script.chunks, _exceeding(script)
    script.max_tokens = None
    with pytest.warns(ConfidentialityWarning, match="duplicated or replayed"):
        stream = _stream(sdk, script, verification=QUIET.with_(chunk_count="warn"))
        list(stream)
    assert stream.receipt.chunk_count_within_bound is False
    assert "chunk-count-exceeded" in stream.receipt.warnings
    for off in (QUIET.with_(chunk_count="off"), QUIET.with_(check_chunk_count=False)):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="confidential answers are less protected")
            warnings.filterwarnings("error", message="the stream had", category=ConfidentialityWarning)
            stream = _stream(sdk, script, verification=off)
            list(stream)
        assert stream.receipt.complete and stream.receipt.chunk_count_within_bound is None


def test_max_tokens_stops_the_stream_at_once(rig: Any) -> None:
    engine, duplicator, sdk = rig
    chunks = [
        _chunk("chat.completion.chunk", [{"index": 0, "delta": {"content": "ab"}}]),
        _chunk("chat.completion.chunk", [{"index": 0, "delta": {"content": "cd"}, "finish_reason": "stop"}]),
        _chunk("chat.completion.chunk", [], {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10}),
    ]
    engine.chunks, duplicator.plan = chunks, {0: 3}
    stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, max_tokens=3)
    received = []
    with pytest.raises(errors.IntegrityError, match="token limit"):
        for item in stream:
            received.append(item)
    assert len(received) == 3  # the fourth copy is never delivered
    assert stream.receipt.chunk_count_within_bound is False


def test_completions_echo_is_exempt(rig: Any) -> None:
    """With echo=True the prompt streams as text that carries no completion tokens."""
    engine, duplicator, sdk = rig
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    engine.chunks = [
        _chunk("text_completion", [{"index": 0, "text": "the prompt ", "finish_reason": None}]),
        _chunk("text_completion", [{"index": 0, "text": "echoed ", "finish_reason": None}]),
        _chunk("text_completion", [{"index": 0, "text": "x", "finish_reason": "stop"}]),
        _chunk("text_completion", [], usage),
    ]
    duplicator.plan = {}
    policy = QUIET.with_(completions_stream="native")
    stream = sdk.confidential_completions.create_stream(
        prompt="the prompt", model=CHAT_MODEL, echo=True, max_tokens=1, verification=policy
    )
    assert "".join(item.data.choices[0].text for item in stream) == "the prompt echoed x"
    assert stream.receipt.complete and stream.receipt.chunk_count_within_bound is None
    with pytest.raises(errors.IntegrityError):
        list(
            sdk.confidential_completions.create_stream(
                prompt="the prompt", model=CHAT_MODEL, verification=policy
            )
        )


def test_buffered_stream_drops_stream_options(rig: Any) -> None:
    """The engine refuses stream_options without stream, as vLLM does: the buffered request has none."""
    engine, _, sdk = rig
    stream = sdk.confidential_chat.create_stream(
        messages=MESSAGES, model=CHAT_MODEL, verification=QUIET.with_(nonce_reuse="buffer"),
        stream_options={"include_usage": True},
    )
    assert stream.text() == "buffered" and stream.receipt.stream_mode == "buffer"
    assert "stream_options" not in engine.bodies[-1] and engine.bodies[-1].get("stream") is not True
    completions = sdk.confidential_completions.create_stream(
        prompt="hi", model=CHAT_MODEL, stream_options={"include_usage": True},
        extra_body={"stream_options": {"include_usage": True}},
    )
    assert completions.text() == "buffered" and completions.receipt.stream_mode == "buffer"
    assert "stream_options" not in engine.bodies[-1]
    assert completions.usage is not None and completions.usage.completion_tokens == 2


def test_node_rejection_is_final(node_and_engine: tuple[LocalNode, FakeEngine]) -> None:
    """A node 400 reaches the client as 500 "Bad Request": typed, and never retried."""
    node, _ = node_and_engine
    lock_requests = []

    def count(exchange: Exchange) -> None:
        if exchange.path == "/v1/nodes/lock":
            lock_requests.append(exchange.path)

    with (
        TamperingProxy(node.url, mutate_request=count) as proxy,
        AtomaSDK(bearer_auth=node.api_key, server_url=proxy.url, verification=QUIET) as sdk,
        pytest.raises(errors.NodeRejectedError) as caught,
    ):
        sdk.confidential_chat.create(
            messages=MESSAGES, model=CHAT_MODEL, extra_body={"reject": True}
        )
    assert isinstance(caught.value, errors.InternalServerError) and caught.value.status_code == 500
    assert "node rejected the request" in str(caught.value)
    assert len(lock_requests) == 1


@pytest.fixture
def node_and_engine() -> Iterator[tuple[LocalNode, FakeEngine]]:
    with node_with_engine() as pair:
        yield pair
