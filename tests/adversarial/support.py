"""Shared by the adversarial and fault suites: a tampering proxy before a node, SDK factories, oracles."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from atoma_sdk import AtomaSDK, VerificationPolicy
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL
from atoma_sdk.local.model import chat_completion, chat_completion_chunks
from atoma_sdk.local.tamper import TamperingProxy
from atoma_sdk.utils import BackoffStrategy, RetryConfig

MODEL = CHAT_MODEL
CHAT_PATH = "/v1/confidential/chat/completions"
LOCK_PATH = "/v1/nodes/lock"
FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 10_000), max_attempts=4)
NO_RETRIES = RetryConfig("none")
QUIET = VerificationPolicy(nonce_reuse="ignore")


def messages(prompt: str = "What does the local node answer?") -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def expected_text(prompt: str = "What does the local node answer?") -> str:
    """What the local node's deterministic model answers to ``messages(prompt)``."""
    content = chat_completion({"model": MODEL, "messages": messages(prompt)})["choices"][0]["message"][
        "content"
    ]
    assert isinstance(content, str)
    return content


def honest_chunks(prompt: str = "What does the local node answer?") -> list[dict[str, Any]]:
    """The plaintext chunks the local node streams for ``messages(prompt)`` (usage chunk last)."""
    return chat_completion_chunks({"model": MODEL, "messages": messages(prompt)})


def text_chunk_indices(chunks: list[dict[str, Any]]) -> list[int]:
    """Indices of the chunks whose first choice carries text (whatever the node's chunking)."""
    return [
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0].get("delta", {}).get("content")
    ]


def signed_tokens(chunks: list[dict[str, Any]]) -> int:
    """The ``completion_tokens`` of a stream's usage chunk."""
    tokens = chunks[-1]["usage"]["completion_tokens"]
    assert isinstance(tokens, int)
    return tokens


def make_sdk(url: str, node: LocalNode, **kwargs: Any) -> AtomaSDK:
    kwargs.setdefault("retry_config", FAST_RETRIES)
    kwargs.setdefault("verification", QUIET)
    return AtomaSDK(bearer_auth=node.api_key, server_url=url, **kwargs)


@contextmanager
def proxied(node: LocalNode, **hooks: Any) -> Iterator[tuple[TamperingProxy, AtomaSDK]]:
    """A tampering proxy in front of ``node`` and an SDK that talks to it (``sdk_*`` keys go to the SDK)."""
    sdk_kwargs = {k[4:]: hooks.pop(k) for k in list(hooks) if k.startswith("sdk_")}
    with TamperingProxy(node.url, **hooks) as proxy, make_sdk(proxy.url, node, **sdk_kwargs) as sdk:
        yield proxy, sdk


def on_path(path: str, mutate: Callable[..., Any]) -> Callable[..., Any]:
    """A hook that applies ``mutate`` only to exchanges on ``path`` (None elsewhere: unchanged)."""

    def hook(exchange: Any, *rest: Any) -> Any:
        return mutate(exchange, *rest) if exchange.path == path else None

    return hook


def confidential_bodies(proxy: TamperingProxy) -> list[dict[str, Any]]:
    return [json.loads(e.body) for e in proxy.requests if e.path.startswith("/v1/confidential/")]


def pool_connections(sdk: AtomaSDK, *, is_async: bool = False) -> list[Any]:
    """The httpcore connections of the SDK's own client."""
    clients = sdk._runtime.clients
    client = clients.async_() if is_async else clients.sync()
    return list(client._transport._pool.connections)  # type: ignore[attr-defined]


def assert_no_checked_out(sdk: AtomaSDK, *, is_async: bool = False) -> None:
    """No connection of the pool is still busy with a response (a leaked, unclosed response)."""
    busy = [c for c in pool_connections(sdk, is_async=is_async) if not (c.is_idle() or c.is_closed())]
    assert busy == [], f"{len(busy)} connection(s) still checked out"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
