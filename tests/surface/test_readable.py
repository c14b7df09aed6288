"""Readable at run time: real signatures (inspect, help), both forms documented, Python-user docstrings,
argument errors in Python terms (and the same inputs rejected as the request models reject)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pydoc
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk._runtime.resource import Resource
from atoma_sdk._runtime.serde import encode_request, resolve
from atoma_sdk.local import LocalNode

from .conftest import CHAT_MODEL

QUIET = VerificationPolicy(attestation="off", nonce_reuse="ignore")
RESOURCES = [
    "chat", "completions", "confidential_chat", "confidential_completions", "confidential_embeddings",
    "confidential_images", "embeddings", "health", "images", "models_", "nodes",
]
MARKERS = {"confidential_chat": "messages", "confidential_completions": "prompt",
           "confidential_embeddings": "input", "confidential_images": "prompt"}
# Server-side (Rust) prose the overlay replaces.
RUST = ("AtomaProxyError", "Result`", "Ok(", "Err(", "StatusCode", "INTERNAL_SERVER_ERROR", "middleware",
        "handler", "## Returns", "## Errors", "This endpoint", "This function")


def _methods() -> Iterator[tuple[str, str, Any]]:
    for module in RESOURCES:
        mod = importlib.import_module(f"atoma_sdk.{module}")
        cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, Resource)
                   and v is not Resource)
        for name, func in vars(cls).items():
            if not name.startswith("_") and inspect.isfunction(func):
                yield module, name, func


@pytest.fixture
def sdk(node: LocalNode) -> Iterator[AtomaSDK]:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET) as client:
        yield client


def test_every_method_shows_real_parameters(sdk: AtomaSDK) -> None:
    seen = 0
    for module, name, _ in _methods():
        for method in (getattr(getattr(sdk, module), name),
                       getattr(getattr(sdk, module).with_raw_response, name)):
            params = inspect.signature(method).parameters
            assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), (module, name)
            assert "self" not in params and "timeout_ms" in params, (module, name)
            if module in MARKERS:  # the plaintext form: the form users call
                marker = params[MARKERS[module]]
                assert marker.kind is marker.KEYWORD_ONLY and marker.default is marker.empty
                assert "verification" in params and "ciphertext" not in params
            seen += 1
    assert seen >= 2 * 28


def test_plaintext_signature_matches_the_plaintext_overload(sdk: AtomaSDK) -> None:
    shown = inspect.signature(sdk.confidential_chat.create)
    plain = inspect.signature(sdk.chat.create)
    assert [*shown.parameters][: len(plain.parameters) - 5] == [*plain.parameters][:-5]
    assert str(shown.return_annotation) == (
        "models.ChatCompletionResponse | ConfidentialStream[models.ChatCompletionStreamResponse]"
    )
    assert "ConfidentialStreamAsync" in str(inspect.signature(sdk.confidential_chat.create_async))
    assert inspect.iscoroutinefunction(sdk.confidential_chat.create_async)


def test_help_documents_both_forms(sdk: AtomaSDK) -> None:
    for module, marker in MARKERS.items():
        resource = getattr(sdk, module)
        generated = vars(type(resource))  # hand-written mixin methods (parse, run_tools...) have one form
        for name in [n for n in generated if not n.startswith("_") and n != "with_raw_response"]:
            text = pydoc.render_doc(getattr(resource, name), renderer=pydoc.plaintext)  # type: ignore[attr-defined]
            assert "Plaintext form" in text and "Raw wire form" in text, (module, name)
            assert f":param {marker}:" in text and ":param ciphertext:" in text
            assert ":param verification:" in text and "ClientSession" in text


def test_docstrings_are_written_for_python_users() -> None:
    for module, name, func in _methods():
        doc = inspect.getdoc(func) or ""
        assert doc, (module, name)
        assert not [word for word in RUST if word in doc], (module, name)


BAD: list[tuple[dict[str, Any], str]] = [
    ({"messages": ["hi"]}, 'messages[0] should be a dict with a \'role\' key (\'assistant\', \'system\', '
     "'tool', 'user'), not a str"),
    ({"messages": [{"content": "hi"}]}, "messages[0] needs a 'role' key: one of"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, 'messages[0]["role"] should be one of \'system\''),
    ({"messages": [{"role": "user", "content": 5}]}, 'messages[0]["content"] should be a str or a list, not '
     "an int"),
    ({"messages": "hi"}, "messages should be a list, not a str"),
    ({"temperature": "hot"}, "temperature should be a number, not a str"),
    ({"tool_choice": "sometimes"}, "tool_choice should be 'none' or 'auto' or a dict or a "
     "models.ChatCompletionNamedToolChoiceParam"),
    ({"response_format": {"type": "xml"}}, 'response_format["type"] should be \'text\''),
]


@pytest.mark.parametrize(("change", "expected"), BAD)
def test_argument_errors_name_the_argument(sdk: AtomaSDK, change: dict[str, Any], expected: str) -> None:
    args: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "model": CHAT_MODEL, **change}
    for method in (sdk.chat.create, sdk.confidential_chat.create):
        with pytest.raises(errors.RequestValidationError) as info:
            method(**args)
        message = str(info.value)
        assert expected in message, message
        assert "_type" not in message and "union_tag" not in message and "robot" not in message


@pytest.mark.anyio
async def test_argument_errors_async(sdk: AtomaSDK) -> None:
    with pytest.raises(errors.RequestValidationError, match=r"messages\[0\] needs a 'role' key"):
        await sdk.confidential_chat.create_async(messages=[{"content": "hi"}], model=CHAT_MODEL)  # type: ignore[list-item]
    with pytest.raises(errors.RequestValidationError, match="prompt should be a str"):
        await sdk.confidential_completions.create_async(prompt=3, model=CHAT_MODEL)  # type: ignore[call-overload]


@pytest.mark.parametrize("params", [
    *[{"messages": [{"role": "user", "content": "hi"}], "model": "m", **change} for change, _ in BAD],
    {"messages": [{"role": "user", "content": "hi"}], "model": "m"},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "model": "m", "n": None},
    {"messages": [], "model": "m", "stop": ["a"], "temperature": 1},
    {"model": "m"},
    {"messages": [{"role": "user", "content": "hi"}], "model": 1.5},
])
def test_the_same_inputs_are_rejected(params: dict[str, Any]) -> None:
    model = resolve("CreateChatCompletionRequest")
    try:
        model.model_validate(params)
    except pydantic.ValidationError:
        with pytest.raises(errors.RequestValidationError):
            encode_request("CreateChatCompletionRequest", params)
    else:
        assert encode_request("CreateChatCompletionRequest", params)


def test_every_method_has_a_typed_raw_twin() -> None:
    """Each resource module's ``<Resource>Raw`` protocol (type checkers only) lists every public method."""
    for module in RESOURCES:
        mod = importlib.import_module(f"atoma_sdk.{module}")
        tree = ast.parse(inspect.getsource(mod))
        classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
        resource = next(name for name in classes if f"{name}Raw" in classes)
        cls = getattr(mod, resource)
        methods = {n for n, f in vars(cls).items() if not n.startswith("_") and callable(f)}
        raw = classes[f"{resource}Raw"]
        listed = [n for n in raw.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        assert {n.name for n in listed} == methods, module
        assert all(ast.unparse(n.returns).startswith("RawResponse[") for n in listed if n.returns), module
