"""Hooks: registration, order, once per attempt, replacement of requests/responses/errors, sync and async."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atoma_sdk import errors
from atoma_sdk._runtime.hooks import HookContext

from .conftest import CHAT, PARAMS, SDK, dropped, no_wait, reply


class Recorder:
    """Implements every hook interface and logs each call as ``name:event:attempt``."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def sdk_init(self, base_url: str, client: httpx.Client | None) -> tuple[str, httpx.Client | None]:
        self.log.append(f"{self.name}:init")
        return base_url, client

    def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
        self.log.append(f"{self.name}:before:{ctx.attempt}")
        request.headers[f"x-hook-{self.name}"] = str(ctx.attempt)
        return request

    def after_success(self, ctx: HookContext, response: httpx.Response) -> httpx.Response:
        self.log.append(f"{self.name}:success:{ctx.attempt}:{response.status_code}")
        return response

    def after_error(
        self, ctx: HookContext, response: httpx.Response | None, error: Exception | None
    ) -> tuple[httpx.Response | None, Exception | None]:
        what = response.status_code if response is not None else type(error).__name__
        self.log.append(f"{self.name}:error:{ctx.attempt}:{what}")
        return response, error


def test_hooks_run_in_order_once_per_attempt(server: Any) -> None:
    log: list[str] = []
    sdk = SDK(server_url=server.url, hooks=[Recorder("a", log)])
    sdk.hooks.register_before_request_hook(Recorder("b", log))
    sdk.hooks.register_after_error_hook(Recorder("b", log))
    no_wait(sdk)
    server.push(reply(503, {}), dropped())
    sdk._runtime.call(CHAT, PARAMS)
    sdk.close()
    assert log == [
        "a:init",
        "a:before:1", "b:before:1", "a:error:1:503", "b:error:1:503",
        "a:before:2", "b:before:2", "a:error:2:RemoteProtocolError", "b:error:2:RemoteProtocolError",
        "a:before:3", "b:before:3", "a:success:3:200",
    ]
    assert [s.headers["x-hook-a"] for s in server.seen] == ["1", "2", "3"]
    assert server.seen[2].headers["x-hook-b"] == "3"


def test_hook_context_fields(server: Any) -> None:
    contexts: list[HookContext] = []

    class Grab:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> httpx.Request:
            contexts.append(ctx)
            return request

    with SDK(server_url=server.url, hooks=[Grab()]) as sdk:
        sdk._runtime.call(CHAT, PARAMS)
    assert contexts == [HookContext("chat", server.url, 1, "POST", "/v1/chat")]


def test_hook_returning_exception_is_raised(server: Any) -> None:
    class Refuse:
        def before_request(self, ctx: HookContext, request: httpx.Request) -> Exception:
            return PermissionError("blocked by hook")

    with SDK(server_url=server.url, hooks=[Refuse()]) as sdk, pytest.raises(PermissionError):
        sdk._runtime.call(CHAT, PARAMS)
    assert server.seen == []


def test_after_error_can_replace_the_error(server: Any) -> None:
    class Replace:
        def after_error(self, ctx: Any, response: Any, error: Any) -> tuple[Any, Exception]:
            return response, LookupError("custom")

    with SDK(server_url=server.url, hooks=[Replace()]) as sdk:
        server.push(reply(404, {}))
        with pytest.raises(LookupError):
            sdk._runtime.call(CHAT, PARAMS)


def test_sdk_init_hook_can_change_base_url(server: Any) -> None:
    class Redirect:
        def sdk_init(self, base_url: str, client: Any) -> tuple[str, Any]:
            return server.url, client

    with SDK(server_url="http://127.0.0.1:9", hooks=[Redirect()]) as sdk:
        assert sdk._runtime.call(CHAT, PARAMS).id == "r1"


def test_object_without_hooks_is_rejected() -> None:
    with pytest.raises(TypeError):
        SDK(hooks=[object()])


@pytest.mark.anyio
async def test_async_hooks_per_attempt(server: Any) -> None:
    log: list[str] = []
    async with SDK(server_url=server.url, hooks=[Recorder("a", log)]) as sdk:
        no_wait(sdk)
        server.push(reply(429, {}))
        await sdk._runtime.call_async(CHAT, PARAMS)
    assert log == ["a:init", "a:before:1", "a:error:1:429", "a:before:2", "a:success:2:200"]


def test_after_success_can_fail_the_call(server: Any) -> None:
    class Reject:
        def after_success(self, ctx: Any, response: httpx.Response) -> Exception:
            return errors.AtomaError("rejected")

    sdk = SDK(server_url=server.url, hooks=[Reject()])
    with sdk, pytest.raises(errors.AtomaError, match="rejected"):
        sdk._runtime.call(CHAT, PARAMS)
