"""Error mapping per status, response validation hygiene, debug logging and token redaction."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.operation import RequestOptions

from .conftest import CHAT, PARAMS, SDK, dropped, no_wait, reply

MakeSDK = Any

STATUSES = [
    (400, errors.BadRequestError),
    (401, errors.AuthenticationError),
    (402, errors.PaymentRequiredError),
    (404, errors.NotFoundError),
    (422, errors.UnprocessableEntityError),
    (423, errors.LockedError),
    (425, errors.TooEarlyError),
    (429, errors.RateLimitError),
    (500, errors.InternalServerError),
    (503, errors.ServiceUnavailableError),
]


@pytest.mark.parametrize(("status", "cls"), STATUSES)
def test_error_mapping(server: Any, make_sdk: MakeSDK, status: int, cls: type[errors.APIError]) -> None:
    sdk, _ = make_sdk()
    body = {"error": {"code": "SOME_CODE", "message": f"server says {status}"}}
    server.push(reply(status, body, {"x-request-id": f"req-{status}"}))
    with pytest.raises(cls) as info:
        sdk._runtime.call(CHAT, PARAMS, RequestOptions(retries=None))
    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status and exc.request_id == f"req-{status}"
    assert f"server says {status}" in str(exc) and exc.code == "SOME_CODE"
    assert exc.body == body


@pytest.mark.anyio
async def test_error_mapping_async(server: Any) -> None:
    async with SDK(server_url=server.url, retry_config=None) as sdk:
        server.push(reply(402, b"no money", {"x-request-id": "r-9"}))
        with pytest.raises(errors.PaymentRequiredError) as info:
            await sdk._runtime.call_async(CHAT, PARAMS)
    assert info.value.request_id == "r-9" and "no money" in str(info.value)


def test_transport_error_is_typed_and_chained(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk(retry_config=None)
    server.push(dropped())
    with pytest.raises(errors.APIConnectionError) as info:
        sdk._runtime.call(CHAT, PARAMS)
    assert type(info.value) is errors.APIConnectionError
    assert "RemoteProtocolError" in str(info.value)


def test_response_validation_error_lists_locations_only(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    canary = "canary-" + "51c9"
    server.push(reply(200, {"id": 7, "choices": [{"index": canary, "text": canary}]}))
    with pytest.raises(errors.ResponseValidationError) as info:
        sdk._runtime.call(CHAT, PARAMS)
    exc = info.value
    assert "choices.0.index: int_parsing" in str(exc) and "id: string_type" in str(exc)
    assert canary not in str(exc) and canary not in repr(exc) and canary not in repr(exc.args)
    assert exc.__cause__ is None and exc.__suppress_context__ and exc.status_code == 200


def test_invalid_json_response(server: Any, make_sdk: MakeSDK) -> None:
    sdk, _ = make_sdk()
    server.push(reply(200, b"not json"))
    with pytest.raises(errors.ResponseValidationError, match="json_invalid"):
        sdk._runtime.call(CHAT, PARAMS)


def test_debug_logger_records_metadata_never_token_or_body(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-" + "secret-42"
    canary = "canary-" + "b0d7"
    logger = logging.getLogger("tests.runtime.debug")
    caplog.set_level(logging.DEBUG, logger="tests.runtime.debug")
    sdk = SDK(server_url=server.url, bearer_auth=token, debug_logger=logger)
    no_wait(sdk)
    server.push(reply(503, {"error": canary}))
    sdk._runtime.call(CHAT, {**PARAMS, "model": canary})
    sdk.close()
    text = caplog.text
    assert "POST /v1/chat -> 503 (attempt 1" in text
    assert "retrying as attempt 2" in text and "POST /v1/chat -> 200 (attempt 2" in text
    assert token not in text and canary not in text and "Bearer" not in text


def test_env_var_turns_on_atoma_sdk_logger(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOMASDK_DEBUG", "1")
    sdk_logger = logging.getLogger("atoma_sdk")
    monkeypatch.setattr(sdk_logger, "handlers", [])
    monkeypatch.setattr(sdk_logger, "level", logging.NOTSET)
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    sdk = SDK(server_url=server.url, bearer_auth="t")
    with caplog.at_level(logging.DEBUG, logger="atoma_sdk"), sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert any(r.name == "atoma_sdk" and "-> 200" in r.getMessage() for r in caplog.records)
    assert logging.getLogger().handlers == root_handlers and logging.getLogger().level == root_level


def test_nothing_is_emitted_by_default(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATOMASDK_DEBUG", raising=False)
    caplog.set_level(logging.WARNING)
    with SDK(server_url=server.url) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert not [r for r in caplog.records if r.name.startswith("atoma_sdk")]


def test_a_level_set_later_by_the_application_takes_effect(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python convention: the application configures ``atoma_sdk``; no environment variable needed."""
    monkeypatch.delenv("ATOMASDK_DEBUG", raising=False)
    sdk_logger = logging.getLogger("atoma_sdk")
    monkeypatch.setattr(sdk_logger, "level", logging.NOTSET)
    with SDK(server_url=server.url) as sdk:
        caplog.set_level(logging.WARNING)
        sdk._runtime.call(CHAT, PARAMS)
        assert not [r for r in caplog.records if r.name == "atoma_sdk"]
        caplog.set_level(logging.DEBUG, logger="atoma_sdk")  # after the SDK was built
        sdk._runtime.call(CHAT, PARAMS)
    assert [r for r in caplog.records if r.name == "atoma_sdk" and "-> 200 (attempt 1" in r.getMessage()]


def test_env_var_adds_no_handler_when_one_exists(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOMASDK_DEBUG", "1")
    sdk_logger = logging.getLogger("atoma_sdk")
    monkeypatch.setattr(sdk_logger, "handlers", [])
    monkeypatch.setattr(sdk_logger, "level", logging.NOTSET)
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)  # the application's handler: records reach it through propagation
    try:
        SDK(server_url=server.url).close()
        assert sdk_logger.handlers == [] and sdk_logger.level == logging.DEBUG
    finally:
        root.removeHandler(handler)


def test_repr_never_shows_token(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "tok-" + "hidden-77"
    sdk = SDK(bearer_auth=token)
    assert "bearer_auth=<redacted>" in repr(sdk) and token not in repr(sdk)
    config = sdk.sdk_configuration
    assert "bearer_auth=<redacted>" in repr(config) and token not in repr(config) and token not in str(config)
    monkeypatch.delenv("ATOMASDK_BEARER_AUTH", raising=False)
    assert "bearer_auth=None" in repr(SDK())
