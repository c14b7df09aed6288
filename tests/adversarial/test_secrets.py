"""Canary sweep: no error path leaks the prompt, the decrypted answer or the bearer token.

A canary built at run time (so this file's source never matches) sits in the prompt and, through forging
and relaying proxies, in decrypted answers. Every error path must keep it (and the token) out of ``str``,
``repr``, ``args``, the whole ``__cause__`` / ``__context__`` chain, ``traceback.format_exception`` and the
``atoma_sdk`` debug log.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from atoma_sdk import VerificationPolicy, errors
from atoma_sdk.local import LocalNode
from atoma_sdk.local.tamper import Exchange, Relayed, Reply, TamperingProxy, flip_field

from .support import CHAT_PATH, LOCK_PATH, MODEL, NO_RETRIES, messages, proxied

CANARY = "cnry" + secrets.token_hex(12)
Scenario = Callable[[LocalNode], dict[str, Any]]


def _texts(exc: BaseException) -> list[str]:
    texts: list[str] = list(traceback.format_exception(exc))
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        texts += [str(item), repr(item), repr(item.args)]
        texts += [repr(v) for k, v in vars(item).items() if k != "raw_response"]
        if isinstance(item, pydantic.ValidationError):
            texts.append(repr(item.errors()))
        if isinstance(item, json.JSONDecodeError):
            texts.append(item.doc)
        stack += [item.__cause__, item.__context__]
    return texts


def _reply(body: bytes) -> Callable[..., Reply | None]:
    return lambda e, r: Reply(200, body, r.headers) if e.path == CHAT_PATH else None


def _relayed_plaintext(plaintext: bytes, *, stream: bool = False) -> dict[str, Any]:
    """A relaying proxy that replaces the answer's plaintext (signed by itself, no pin: it decrypts fine)."""
    holder: list[TamperingProxy] = []

    def rewrite(exchange: Exchange, chunks: list[Relayed]) -> list[Relayed]:
        forged = holder[0].signed_by_proxy(plaintext)
        return [forged, *chunks[1:]] if stream else [forged]

    return {"forge": "relay", "mutate_relayed": rewrite, "_holder": holder}


def _chunk(content: Any) -> bytes:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": MODEL, "choices": content}
    return json.dumps(chunk).encode()


SCENARIOS: dict[str, tuple[dict[str, Any], bool, type[Exception]]] = {
    "bad-base64": (
        {
            "mutate_response": lambda e, r: (
                Reply.of_json({**r.json(), "ciphertext": CANARY + "!"}) if e.path == CHAT_PATH else None
            )
        },
        False,
        errors.IntegrityError,
    ),
    "bad-json-envelope": (
        {"mutate_response": _reply(b'{"ciphertext": "' + CANARY.encode())},
        False,
        errors.IntegrityError,
    ),
    "bad-json-event": (
        {"mutate_event": lambda e, i, d: '{"x": "' + CANARY if i == 1 else None},
        True,
        errors.IntegrityError,
    ),
    "bad-tag": (
        {"mutate_event": lambda e, i, d: flip_field(d, "ciphertext", 5) if i == 2 else None},
        True,
        errors.IntegrityError,
    ),
    "plaintext-not-json": (_relayed_plaintext(b"not json " + CANARY.encode()), False, errors.IntegrityError),
    "schema-mismatch": (
        _relayed_plaintext(json.dumps({"id": CANARY, "choices": CANARY}).encode()),
        False,
        errors.IntegrityError,
    ),
    "chunk-schema-mismatch": (
        _relayed_plaintext(_chunk([{"index": CANARY}]), stream=True),
        True,
        errors.IntegrityError,
    ),
    "chunk-not-json": (_relayed_plaintext(CANARY.encode(), stream=True), True, errors.IntegrityError),
    "wrong-model": (
        _relayed_plaintext(
            json.dumps(
                {"id": "x", "object": "chat.completion", "created": 0, "model": CANARY, "choices": []}
            ).encode()
        ),
        False,
        errors.IntegrityError,
    ),
    "truncated-forged-stream": (
        {"forge": "answer", "forged_text": CANARY, "mutate_events": lambda e, ev: ev[:1]},
        True,
        errors.StreamTruncatedError,
    ),
    "signature-not-pinned": (
        {"forge": "answer", "forged_text": CANARY, "pinned": True},
        False,
        errors.SignatureError,
    ),
    "signature-not-pinned-stream": (
        {"forge": "answer", "forged_text": CANARY, "pinned": True},
        True,
        errors.SignatureError,
    ),
    "signature-stripped": (
        {
            "mutate_event": lambda e, i, d: (
                json.dumps({**json.loads(d), "signature": None}) if i == 1 else None
            )
        },
        True,
        errors.SignatureError,
    ),
    "reflected-prompt": ({"reflect": True}, False, errors.IntegrityError),
    "reflected-prompt-stream": ({"reflect": True}, True, errors.IntegrityError),
    "lock-unavailable": ({"lock_status": 503}, False, errors.ServiceUnavailableError),
    "lock-not-json": (
        {
            "mutate_response": lambda e, r: (
                Reply(200, b"{" + CANARY.encode(), r.headers) if e.path == LOCK_PATH else None
            )
        },
        False,
        errors.ResponseValidationError,
    ),
    "lock-bad-key": (
        {
            "mutate_response": lambda e, r: (
                Reply.of_json({**r.json(), "public_key": CANARY}) if e.path == LOCK_PATH else None
            )
        },
        False,
        errors.ConfidentialError,
    ),
    "node-rejects": ({"node_status": 500}, True, errors.InternalServerError),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_secret_on_any_error_path(node: LocalNode, name: str, caplog: pytest.LogCaptureFixture) -> None:
    spec, stream, error = SCENARIOS[name]
    hooks = dict(spec)
    holder = hooks.pop("_holder", None)
    policy = VerificationPolicy(nonce_reuse="ignore")
    if hooks.pop("pinned", False):
        policy = policy.with_(pinned_signers=frozenset({node.signer_address}))
    if hooks.pop("reflect", False):
        node.faults.reflect_next(route=CHAT_PATH)
    if (status := hooks.pop("lock_status", None)) is not None:
        node.faults.fail_next(1, status=status, route=LOCK_PATH)
    if (status := hooks.pop("node_status", None)) is not None:
        node.faults.fail_next(1, status=status, route=CHAT_PATH)
    for key in ("mutate_response", "mutate_event", "mutate_events"):
        if key in hooks:
            hook = hooks[key]
            hooks[key] = lambda e, *rest, _h=hook: _h(e, *rest) if e.path in (CHAT_PATH, LOCK_PATH) else None
    if "mutate_events" in hooks:
        inner = hooks["mutate_events"]
        hooks["mutate_events"] = lambda e, ev, _h=inner: _h(e, ev) or list(ev)
    caplog.set_level(logging.DEBUG, logger="atoma_sdk")
    debug = logging.getLogger("atoma_sdk")
    prompt = messages(f"my secret is {CANARY}")
    with proxied(
        node, **hooks, sdk_verification=policy, sdk_retry_config=NO_RETRIES, sdk_debug_logger=debug
    ) as (proxy, sdk):
        if holder is not None:
            holder.append(proxy)
        with pytest.raises(error) as caught:
            if stream:
                sdk.confidential_chat.create_stream(messages=prompt, model=MODEL).text()
            else:
                sdk.confidential_chat.create(messages=prompt, model=MODEL)
        assert proxy.errors == []
    assert caplog.records, "the debug log is on and saw the calls"
    texts = [*_texts(caught.value), caplog.text]
    for secret in (CANARY, node.api_key):
        leaks = [t for t in texts if secret in t]
        assert leaks == [], f"{name}: a secret leaked"


def test_sdk_and_config_reprs_hide_the_token(node: LocalNode) -> None:
    with proxied(node) as (_, sdk):
        sdk.confidential_chat.create(messages=messages(), model=MODEL)
        runtime = sdk._runtime
        for text in (repr(sdk), str(sdk), repr(runtime), repr(runtime.config), str(runtime.config)):
            assert node.api_key not in text
