"""Speakeasy-style request hooks: SDK init, before request, after success, after error.

A hook is any object with the matching method. Hooks run in registration order, once per attempt, for sync and
async calls alike. A hook may return an ``Exception`` instead of its normal result: the call raises it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import httpx

from .raw import note_request, note_success
from .record import FrozenRecord, set_field

__all__ = [
    "AfterErrorContext",
    "AfterErrorHook",
    "AfterSuccessContext",
    "AfterSuccessHook",
    "BeforeRequestContext",
    "BeforeRequestHook",
    "HookContext",
    "Hooks",
    "SDKInitHook",
]


class HookContext(FrozenRecord):
    """What a hook knows about the attempt in flight."""

    __slots__ = ("attempt", "base_url", "method", "oauth2_scopes", "operation_id", "path", "security_source")
    operation_id: str
    base_url: str
    attempt: int
    method: str
    path: str
    #: Speakeasy compatibility: the operation's OAuth2 scopes (none here) and security source.
    oauth2_scopes: list[str] | None
    security_source: object | None

    def __init__(
        self,
        operation_id: str,
        base_url: str,
        attempt: int,
        method: str = "",
        path: str = "",
        oauth2_scopes: list[str] | None = None,
        security_source: object | None = None,
    ) -> None:
        set_field(self, "operation_id", operation_id)
        set_field(self, "base_url", base_url)
        set_field(self, "attempt", attempt)
        set_field(self, "method", method)
        set_field(self, "path", path)
        set_field(self, "oauth2_scopes", oauth2_scopes)
        set_field(self, "security_source", security_source)


BeforeRequestContext = HookContext
AfterSuccessContext = HookContext
AfterErrorContext = HookContext


@runtime_checkable
class SDKInitHook(Protocol):
    def sdk_init(self, base_url: str, client: httpx.Client | None) -> tuple[str, httpx.Client | None]: ...


@runtime_checkable
class BeforeRequestHook(Protocol):
    def before_request(self, hook_ctx: HookContext, request: httpx.Request) -> httpx.Request | Exception: ...


@runtime_checkable
class AfterSuccessHook(Protocol):
    def after_success(
        self, hook_ctx: HookContext, response: httpx.Response
    ) -> httpx.Response | Exception: ...


@runtime_checkable
class AfterErrorHook(Protocol):
    def after_error(
        self, hook_ctx: HookContext, response: httpx.Response | None, error: Exception | None
    ) -> tuple[httpx.Response | None, Exception | None] | Exception: ...


class Hooks:
    """The hooks registered on one SDK instance."""

    def __init__(self, hooks: Iterable[object] = ()) -> None:
        self.sdk_init_hooks: list[SDKInitHook] = []
        self.before_request_hooks: list[BeforeRequestHook] = []
        self.after_success_hooks: list[AfterSuccessHook] = []
        self.after_error_hooks: list[AfterErrorHook] = []
        for hook in hooks:
            self.register(hook)

    def register(self, hook: object) -> None:
        """Register ``hook`` for every hook interface it implements."""
        matched = False
        if isinstance(hook, SDKInitHook):
            self.register_sdk_init_hook(hook)
            matched = True
        if isinstance(hook, BeforeRequestHook):
            self.register_before_request_hook(hook)
            matched = True
        if isinstance(hook, AfterSuccessHook):
            self.register_after_success_hook(hook)
            matched = True
        if isinstance(hook, AfterErrorHook):
            self.register_after_error_hook(hook)
            matched = True
        if not matched:
            raise TypeError(f"{type(hook).__name__} implements no SDK hook interface")

    def register_sdk_init_hook(self, hook: SDKInitHook) -> None:
        self.sdk_init_hooks.append(hook)

    def register_before_request_hook(self, hook: BeforeRequestHook) -> None:
        self.before_request_hooks.append(hook)

    def register_after_success_hook(self, hook: AfterSuccessHook) -> None:
        self.after_success_hooks.append(hook)

    def register_after_error_hook(self, hook: AfterErrorHook) -> None:
        self.after_error_hooks.append(hook)

    def sdk_init(self, base_url: str, client: httpx.Client | None) -> tuple[str, httpx.Client | None]:
        for hook in self.sdk_init_hooks:
            base_url, client = hook.sdk_init(base_url, client)
        return base_url, client

    def before_request(self, hook_ctx: HookContext, request: httpx.Request) -> httpx.Request:
        for hook in self.before_request_hooks:
            result = hook.before_request(hook_ctx, request)
            if isinstance(result, Exception):
                raise result
            request = result
        note_request(hook_ctx.operation_id)
        return request

    def after_success(self, hook_ctx: HookContext, response: httpx.Response) -> httpx.Response:
        for hook in self.after_success_hooks:
            result = hook.after_success(hook_ctx, response)
            if isinstance(result, Exception):
                raise result
            response = result
        note_success(hook_ctx.operation_id, response)
        return response

    def after_error(
        self, hook_ctx: HookContext, response: httpx.Response | None, error: Exception | None
    ) -> tuple[httpx.Response | None, Exception | None]:
        for hook in self.after_error_hooks:
            result = hook.after_error(hook_ctx, response, error)
            if isinstance(result, Exception):
                raise result
            response, error = result
        return response, error
