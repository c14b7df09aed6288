"""What goes on the wire: auth, headers, server selection, and request bodies."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.config import SERVERS, SDKConfig
from atoma_sdk._runtime.operation import RequestOptions
from atoma_sdk._runtime.serde import encode_request
from atoma_sdk._version import USER_AGENT
from atoma_sdk.types import UNSET

from .conftest import CHAT, HEALTH, PARAMS, SDK, ChatRequest, Message, reply

MakeSDK = Any


def test_env_var_token_is_sent(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMASDK_BEARER_AUTH", "from-env")
    with SDK(server_url=server.url) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert server.seen[0].headers["authorization"] == "Bearer from-env"


def test_explicit_and_callable_tokens(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMASDK_BEARER_AUTH", "from-env")
    with SDK(server_url=server.url, bearer_auth="explicit") as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    with SDK(server_url=server.url, bearer_auth=lambda: "called") as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert [s.headers["authorization"] for s in server.seen] == ["Bearer explicit", "Bearer called"]


def test_no_token_no_header_and_insecure_ops(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATOMASDK_BEARER_AUTH", raising=False)
    with SDK(server_url=server.url) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    with SDK(server_url=server.url, bearer_auth="tok") as sdk:
        server.push(reply(200, b""))
        assert sdk._runtime.call(HEALTH, {}) is None
    assert "authorization" not in server.seen[0].headers
    assert "authorization" not in server.seen[1].headers
    assert server.seen[1].method == "GET" and server.seen[1].body == b""


def test_standard_headers(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    sdk._runtime.call(CHAT, PARAMS, RequestOptions(http_headers={"X-Extra": "1"}))
    headers = server.seen[0].headers
    assert headers["user-agent"] == USER_AGENT
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"
    assert headers["x-extra"] == "1"
    assert server.seen[0].path == "/v1/chat"


def test_per_call_server_url(server: Any) -> None:
    with SDK(server_url="http://127.0.0.1:9/nowhere") as sdk:
        sdk._runtime.call(CHAT, PARAMS, RequestOptions(server_url=server.url + "/"))
    assert server.seen[0].path == "/v1/chat"


def test_server_selection() -> None:
    assert SDKConfig.build().server_url == SERVERS[0] == "https://api.atoma.network"
    assert SDKConfig.build(server_idx=0).server_url == SERVERS[0]
    assert SDKConfig.build(server_url="http://x/api/").server_url == "http://x/api"
    with pytest.raises(errors.RequestValidationError):
        SDKConfig.build(server_idx=3)


def test_body_is_compact_utf8_json_with_unset_and_none_dropped() -> None:
    params = {
        "model": "m",
        "messages": [{"role": "user", "content": None}, Message(role="user", content="é✓")],
        "temperature": None,  # not nullable: dropped
        "max_tokens": UNSET,  # not given: dropped
    }
    body = encode_request("ChatRequest", params, {"stream": False})
    assert body == (
        '{"model":"m","messages":[{"role":"user","content":null},{"role":"user","content":"é✓"}],'
        '"stream":false}'
    ).encode()


def test_body_sent_once_validated(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    sdk._runtime.call(CHAT, {**PARAMS, "max_tokens": 5}, RequestOptions(extra_body={"x": [1]}))
    sent = json.loads(server.seen[0].body)
    assert sent == {**PARAMS, "max_tokens": 5, "x": [1]}
    assert ChatRequest.model_validate(sent).max_tokens == 5


def test_bad_params_raise_request_validation_error_without_values(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    canary = "canary-" + "7f3a"
    with pytest.raises(errors.RequestValidationError) as info:
        sdk._runtime.call(CHAT, {"model": 1.5, "messages": [{"role": {"x": canary}}]})
    exc = info.value
    assert isinstance(exc, ValueError)
    assert 'messages[0]["role"] should be a str, not a dict' in str(exc)
    assert "model should be a str, not a float" in str(exc)
    assert canary not in str(exc) and canary not in repr(exc.args)
    assert exc.__cause__ is None and exc.__context__ is None  # no pydantic error kept in the chain
    assert server.seen == []


def test_extra_body_not_serialisable() -> None:
    with pytest.raises(errors.RequestValidationError):
        encode_request("ChatRequest", PARAMS, {"x": object()})


def test_import_atoma_sdk_stays_lazy() -> None:
    code = (
        "import sys, atoma_sdk; "
        "assert 'httpx' not in sys.modules and 'pydantic' not in sys.modules, sorted(sys.modules); "
        "assert not any(m.startswith('atoma_sdk._runtime') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

