"""``with_options``: a copy of one SDK's runtime with some settings changed and every resource shared."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import errors
from ..types import UNSET
from .config import (
    DEFAULT_STREAM_IDLE_TIMEOUT_S,
    SDKConfig,
    check_headers,
    resolve_retries,
    resolve_server_url,
    resolve_timeout,
)
from .core import Runtime

__all__ = ["copy_config", "copy_runtime"]

# What a test may have replaced on the original (see ``Runtime``); the copy keeps them.
_SEAMS = ("clock", "wall_clock", "rng", "sleep", "async_sleep")


def copy_config(config: SDKConfig, changes: Mapping[str, Any]) -> SDKConfig:
    """``config`` with the given ``with_options`` arguments applied (same rules as the constructor)."""
    fields: dict[str, Any] = {}
    if "bearer_auth" in changes:
        fields["bearer_auth"] = SDKConfig.build(bearer_auth=changes["bearer_auth"]).bearer_auth
    if "server_url" in changes or "server_idx" in changes:
        fields["server_url"] = resolve_server_url(changes.get("server_url"), changes.get("server_idx"))
    if "max_retries" in changes or "retry_config" in changes:
        retry_config = changes.get("retry_config", UNSET)
        fields["retry_config"] = resolve_retries(changes.get("max_retries"), retry_config)
    if "timeout" in changes or "timeout_ms" in changes:
        fields["timeout_ms"], fields["http_timeout"] = resolve_timeout(
            changes.get("timeout"), changes.get("timeout_ms")
        )
    if "stream_idle_timeout_ms" in changes:
        idle = changes["stream_idle_timeout_ms"]
        if idle is not None and idle <= 0:
            raise errors.RequestValidationError("stream_idle_timeout_ms must be positive")
        fields["stream_idle_timeout_s"] = DEFAULT_STREAM_IDLE_TIMEOUT_S if idle is None else idle / 1000.0
    if "default_headers" in changes:
        added = check_headers(changes["default_headers"], "default_headers")
        fields["default_headers"] = {**(config.default_headers or {}), **added} or None
    copied = config.replace(**fields)
    if copied.server_url != config.server_url or copied.token() != config.token():
        # Pooled locks were bought on this SDK's server with its account: the copy locks for itself.
        copied.lock_prefetch, copied.lock_pool = False, None
    return copied


def copy_runtime(runtime: Runtime, changes: Mapping[str, Any]) -> Runtime:
    """A runtime with the changed settings sharing ``runtime``'s clients, limiter, hooks and lock pool."""
    copy = Runtime(copy_config(runtime.config, changes), runtime.clients, runtime.hooks)
    for name in _SEAMS:
        setattr(copy, name, getattr(runtime, name))
    if copy.config.lock_prefetch:  # the confidential layer creates and finds the pool through the owner
        copy.config.lock_pool_owner = runtime.config.lock_pool_owner or runtime
    return copy
