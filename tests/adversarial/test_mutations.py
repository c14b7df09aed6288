"""Every detectable mutation of a confidential answer raises its specific typed error, never returns a result.

The tampering proxy rewrites the node's answers on the wire; the SDK must refuse each rewritten answer with
the error class the threat model names (IntegrityError / SignatureError / StreamTruncatedError) and must not
retry a unit whose answer was tampered with (one confidential request per call).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from atoma_sdk import errors
from atoma_sdk.local import LocalNode
from atoma_sdk.local.model import chat_completion, chat_completion_chunks
from atoma_sdk.local.tamper import Exchange, Reply, flip_b64, flip_field

from .support import CHAT_PATH, MODEL, confidential_bodies, expected_text, messages, proxied

Envelope = dict[str, Any]
# Bits inside the Sui signature: byte 0 is the scheme flag, 1..64 the Ed25519 signature, 65..96 its key.
SIG_BIT = 8 * 10 + 3
SIG_KEY_BIT = 8 * 70 + 1


class History:
    """Keeps the node's confidential answers; mutators may use an earlier one (swaps, replays, splices)."""

    def __init__(self) -> None:
        self.replies: list[Envelope] = []
        self.streams: list[list[str]] = []


def _set(name: str, value: Callable[[Envelope, History], Any]) -> Callable[[Envelope, History], Envelope]:
    return lambda env, history: {**env, name: value(env, history)}


def _strip(name: str) -> Callable[[Envelope, History], Envelope]:
    return lambda env, history: {k: v for k, v in env.items() if k != name}


def _flip(name: str, bit: int = 0) -> Callable[[Envelope, History], Envelope]:
    return _set(name, lambda env, _: flip_b64(env[name], bit))


def _from_earlier(name: str) -> Callable[[Envelope, History], Envelope]:
    return _set(name, lambda env, history: history.replies[0][name])


def _plaintext_answer(env: Envelope, history: History) -> Envelope:
    return chat_completion({"model": MODEL, "messages": messages()})


ENVELOPE_MUTATIONS: list[tuple[str, Callable[[Envelope, History], Any], type[errors.ConfidentialError]]] = [
    ("ciphertext-first-bit", _flip("ciphertext", 0), errors.IntegrityError),
    ("ciphertext-tag-bit", _flip("ciphertext", -1), errors.IntegrityError),
    ("nonce-bit", _flip("nonce", 5), errors.IntegrityError),
    ("response-hash-bit", _flip("response_hash", 7), errors.IntegrityError),
    ("signature-bit", _flip("signature", SIG_BIT), errors.SignatureError),
    ("signature-key-bit", _flip("signature", SIG_KEY_BIT), errors.SignatureError),
    ("signature-stripped", _strip("signature"), errors.SignatureError),
    ("hash-stripped", _strip("response_hash"), errors.IntegrityError),
    ("signature-swapped", _from_earlier("signature"), errors.SignatureError),
    ("hash-swapped", _from_earlier("response_hash"), errors.IntegrityError),
    (
        "ciphertext-not-base64",
        _set("ciphertext", lambda env, _: env["ciphertext"][:-4] + "!!!!"),
        errors.IntegrityError,
    ),
    ("nonce-wrong-length", _set("nonce", lambda env, _: "AAAA"), errors.IntegrityError),
    ("unencrypted-answer", _plaintext_answer, errors.IntegrityError),
    ("answer-for-another-request", lambda env, history: history.replies[0], errors.IntegrityError),
]


def _reply_mutator(history: History, mutate: Callable[[Envelope, History], Any]) -> Callable[..., Any]:
    def hook(exchange: Exchange, reply: Reply) -> Reply | None:
        if exchange.path != CHAT_PATH or reply.status != 200:
            return None
        envelope = reply.json()
        if not history.replies:
            history.replies.append(envelope)
            return None
        return Reply.of_json(mutate(envelope, history))

    return hook


@pytest.mark.parametrize(
    ("name", "mutate", "error"), ENVELOPE_MUTATIONS, ids=[m[0] for m in ENVELOPE_MUTATIONS]
)
def test_tampered_answer_raises_its_error(
    node: LocalNode, name: str, mutate: Callable[[Envelope, History], Any], error: type[Exception]
) -> None:
    history = History()
    with proxied(node, mutate_response=_reply_mutator(history, mutate)) as (proxy, sdk):
        honest = sdk.confidential_chat.create(messages=messages(), model=MODEL)  # recorded, passes unchanged
        assert honest.choices[0].message.content == expected_text()
        with pytest.raises(error) as caught:
            sdk.confidential_chat.create(messages=messages(), model=MODEL)
        assert type(caught.value) is error
        assert len(confidential_bodies(proxy)) == 2, "a tampered answer must not be retried"
        assert proxy.errors == []


def test_malformed_json_answer(node: LocalNode) -> None:
    def hook(exchange: Exchange, reply: Reply) -> Reply | None:
        return Reply(200, b'{"ciphertext": "AAAA", "nonce":', {"content-type": "application/json"})

    with (
        proxied(node, mutate_response=lambda e, r: hook(e, r) if e.path == CHAT_PATH else None) as (_, sdk),
        pytest.raises(errors.IntegrityError),
    ):
        sdk.confidential_chat.create(messages=messages(), model=MODEL)


def test_reflected_request_is_refused(node: LocalNode) -> None:
    """The request's own ciphertext echoed back (hash = the request's hash) decrypts, and must still fail."""

    def reflect(exchange: Exchange) -> Reply | None:
        if exchange.path != CHAT_PATH:
            return None
        request = exchange.json()
        answer = {
            "ciphertext": request["ciphertext"],
            "nonce": request["nonce"],
            "response_hash": request["plaintext_body_hash"],
        }
        return Reply.of_json(answer)

    with (
        proxied(node, mutate_request=reflect) as (_, sdk),
        pytest.raises(errors.IntegrityError, match="reflected"),
    ):
        sdk.confidential_chat.create(messages=messages(), model=MODEL)


@pytest.mark.parametrize("stream", [False, True])
def test_node_signed_reflection_is_refused(node: LocalNode, stream: bool) -> None:
    """Reflection with a valid node signature over the request hash (the node's own reflect fault)."""
    node.faults.reflect_next(route=CHAT_PATH)
    with proxied(node) as (_, sdk), pytest.raises(errors.IntegrityError, match="reflected"):
        if stream:
            sdk.confidential_chat.create_stream(messages=messages(), model=MODEL).text()
        else:
            sdk.confidential_chat.create(messages=messages(), model=MODEL)


# -- streams -------------------------------------------------------------------------------------------------


def _plain_chunk() -> str:
    return json.dumps(chat_completion_chunks({"model": MODEL, "messages": messages()})[1])


def _event_at(index: int, mutate: Callable[[str, History], Any]) -> Callable[[History], Callable[..., Any]]:
    def build(history: History) -> Callable[..., Any]:
        def hook(exchange: Exchange, events: list[str]) -> list[Any]:
            if not history.streams:
                history.streams.append(events)
                return list(events)
            out: list[Any] = list(events)
            out[index] = mutate(events[index], history)
            return out

        return hook

    return build


def _sequence(mutate: Callable[[list[str], History], list[Any]]) -> Callable[[History], Callable[..., Any]]:
    def build(history: History) -> Callable[..., Any]:
        def hook(exchange: Exchange, events: list[str]) -> list[Any]:
            if not history.streams:
                history.streams.append(events)
                return list(events)
            return mutate(list(events), history)

        return hook

    return build


def _env(mutate: Callable[[Envelope, History], Envelope]) -> Callable[[str, History], str]:
    return lambda data, history: json.dumps(mutate(json.loads(data), history))


def _swap_from_first(name: str) -> Callable[[History], Callable[..., Any]]:
    def mutate(events: list[str], history: History) -> list[Any]:
        events[1] = json.dumps({**json.loads(events[1]), name: json.loads(events[0])[name]})
        return events

    return _sequence(mutate)


def _request_as_chunk(exchange_holder: list[Exchange]) -> str:
    request = exchange_holder[-1].json()
    return json.dumps(
        {
            "ciphertext": request["ciphertext"],
            "nonce": request["nonce"],
            "response_hash": request["plaintext_body_hash"],
        }
    )


STREAM_MUTATIONS: list[
    tuple[str, Callable[[History], Callable[..., Any]], type[errors.ConfidentialError]]
] = [
    (
        "first-chunk-ciphertext-bit",
        _event_at(0, lambda d, _: flip_field(d, "ciphertext", 3)),
        errors.IntegrityError,
    ),
    ("ciphertext-bit", _event_at(1, lambda d, _: flip_field(d, "ciphertext", 9)), errors.IntegrityError),
    ("nonce-bit", _event_at(2, lambda d, _: flip_field(d, "nonce", 0)), errors.IntegrityError),
    (
        "response-hash-bit",
        _event_at(1, lambda d, _: flip_field(d, "response_hash", 200)),
        errors.IntegrityError,
    ),
    ("signature-bit", _event_at(1, lambda d, _: flip_field(d, "signature", SIG_BIT)), errors.SignatureError),
    ("signature-stripped", _event_at(1, _env(_strip("signature"))), errors.SignatureError),
    ("hash-stripped", _event_at(1, _env(_strip("response_hash"))), errors.IntegrityError),
    ("signature-swapped", _swap_from_first("signature"), errors.SignatureError),
    ("hash-swapped", _swap_from_first("response_hash"), errors.IntegrityError),
    ("spliced-from-another-stream", _event_at(2, lambda d, h: h.streams[0][2]), errors.IntegrityError),
    (
        "injected-unencrypted-chunk",
        _sequence(lambda ev, _: [*ev[:2], _plain_chunk(), *ev[2:]]),
        errors.IntegrityError,
    ),
    ("injected-not-json", _sequence(lambda ev, _: [*ev[:2], "{not json", *ev[2:]]), errors.IntegrityError),
    ("chunk-not-an-object", _sequence(lambda ev, _: [*ev[:2], "[1, 2]", *ev[2:]]), errors.IntegrityError),
    ("truncated", _sequence(lambda ev, _: ev[:3]), errors.StreamTruncatedError),
    ("truncated-fake-done", _sequence(lambda ev, _: [*ev[:3], "[DONE]"]), errors.StreamTruncatedError),
    ("usage-chunk-dropped", _sequence(lambda ev, _: ev[:-1]), errors.StreamTruncatedError),
    ("finish-chunk-dropped", _sequence(lambda ev, _: [*ev[:-2], ev[-1]]), errors.StreamTruncatedError),
    ("empty-stream", _sequence(lambda ev, _: []), errors.StreamTruncatedError),
    ("data-after-done", _sequence(lambda ev, _: [*ev, "[DONE]", ev[1]]), errors.IntegrityError),
    ("stream-for-another-request", _sequence(lambda ev, h: list(h.streams[0])), errors.IntegrityError),
]


@pytest.mark.parametrize(("name", "build", "error"), STREAM_MUTATIONS, ids=[m[0] for m in STREAM_MUTATIONS])
def test_tampered_stream_raises_its_error(
    node: LocalNode, name: str, build: Callable[[History], Callable[..., Any]], error: type[Exception]
) -> None:
    history = History()
    hook = build(history)
    with proxied(node, mutate_events=lambda e, ev: hook(e, ev) if e.path == CHAT_PATH else list(ev)) as (
        proxy,
        sdk,
    ):
        honest = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        assert honest.text() == expected_text()
        assert honest.receipt.complete
        items: list[Any] = []
        with pytest.raises(error) as caught:
            stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
            for item in stream:
                items.append(item)
        assert type(caught.value) is error
        assert len(confidential_bodies(proxy)) == 2, "a tampered stream must not be retried"
        assert proxy.errors == []


def test_reflected_request_as_stream_chunk(node: LocalNode) -> None:
    seen: list[Exchange] = []

    def remember(exchange: Exchange) -> None:
        seen.append(exchange)

    def inject(exchange: Exchange, events: list[str]) -> list[Any]:
        if exchange.path != CHAT_PATH:
            return list(events)
        return [events[0], _request_as_chunk(seen), *events[1:]]

    with (
        proxied(node, mutate_request=remember, mutate_events=inject) as (_, sdk),
        pytest.raises(errors.IntegrityError, match="reflected"),
    ):
        sdk.confidential_chat.create_stream(messages=messages(), model=MODEL).text()


def test_honest_proxy_changes_nothing(node: LocalNode) -> None:
    """A pass-through proxy (every hook returning None) delivers verified answers, repeated tokens too."""
    with proxied(
        node,
        mutate_request=lambda e: None,
        mutate_response=lambda e, r: None,
        mutate_event=lambda e, i, d: None,
    ) as (proxy, sdk):
        answer = sdk.confidential_chat.create(messages=messages(), model=MODEL)
        stream = sdk.confidential_chat.create_stream(messages=messages(), model=MODEL)
        text = stream.text()
    assert answer.choices[0].message.content == text == expected_text()
    assert stream.receipt.complete and stream.receipt.chunk_count_within_bound
    tokens = chat_completion_chunks({"model": MODEL, "messages": messages()})
    contents = [c["choices"][0]["delta"]["content"] for c in tokens if c["choices"]]
    assert len(set(contents)) < len(contents), "the model repeats a token: the honest stream has equal chunks"
    assert proxy.errors == []
