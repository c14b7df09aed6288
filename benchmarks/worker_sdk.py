"""Benchmark worker for atoma-sdk itself (``python -m benchmarks.worker_sdk``)."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from atoma_sdk import AtomaSDK, DefaultAioHttpClient, VerificationPolicy
from atoma_sdk._runtime.sse import SSEDecoder
from atoma_sdk.confidential import sui
from atoma_sdk.confidential.policy import ConfidentialityWarning
from benchmarks import sse_input
from benchmarks.protocol import measure_calls, measure_stream, rss_bytes, serve

warnings.simplefilter(
    "ignore", ConfidentialityWarning
)  # the local node reuses stream nonces, as real ones do

NO_SIGNATURE = VerificationPolicy(verify_signatures=False)  # signatures neither required nor checked

_sdks: dict[tuple[str, str], AtomaSDK] = {}


def _sdk(args: Mapping[str, Any]) -> AtomaSDK:
    key = (args["url"], args["api_key"])
    if key not in _sdks:
        _sdks[key] = AtomaSDK(bearer_auth=args["api_key"], server_url=args["url"])
    return _sdks[key]


def _policy(args: Mapping[str, Any]) -> VerificationPolicy | None:
    return None if args.get("verify", True) else NO_SIGNATURE


def create(args: Mapping[str, Any]) -> dict[str, float]:
    chat, policy = _sdk(args).confidential_chat, _policy(args)
    messages, model = args["messages"], args["model"]
    if policy is None:
        return measure_calls(
            lambda: chat.create(messages=messages, model=model), args["n"], args.get("warmup", 0)
        )
    return measure_calls(
        lambda: chat.create(messages=messages, model=model, verification=policy),
        args["n"],
        args.get("warmup", 0),
    )


def stream(args: Mapping[str, Any]) -> dict[str, float]:
    chat, policy = _sdk(args).confidential_chat, _policy(args)
    messages, model, tokens = args["messages"], args["model"], args["max_tokens"]

    def open_stream() -> Iterable[object]:
        if policy is None:
            return chat.create_stream(messages=messages, model=model, max_tokens=tokens)
        return chat.create_stream(messages=messages, model=model, max_tokens=tokens, verification=policy)

    return measure_stream(open_stream, args["n"], args.get("warmup", 0))


# -- case 2: plain chat over an in-process transport --

_CANNED: dict[str, bytes] = {}


def _canned() -> bytes:
    if not _CANNED:
        from atoma_sdk.local.model import chat_completion

        body = {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 32}
        _CANNED["body"] = json.dumps(chat_completion(body)).encode()
    return _CANNED["body"]


def _transport() -> httpx.MockTransport:
    content = _canned()
    headers = {"content-type": "application/json"}
    return httpx.MockTransport(lambda request: httpx.Response(200, content=content, headers=headers))


_plain: dict[str, Any] = {}


def plain_sdk(args: Mapping[str, Any]) -> dict[str, float]:
    if "sdk" not in _plain:
        client = httpx.Client(transport=_transport())
        _plain["sdk"] = AtomaSDK(bearer_auth="k", server_url="http://bench.invalid", client=client)
    chat, messages = _plain["sdk"].chat, args["messages"]
    return measure_calls(lambda: chat.create(messages=messages, model="m"), args["n"], args.get("warmup", 0))


def plain_httpx(args: Mapping[str, Any]) -> dict[str, float]:
    if "httpx" not in _plain:
        _plain["httpx"] = httpx.Client(transport=_transport(), base_url="http://bench.invalid")
    client: httpx.Client = _plain["httpx"]
    body = {"messages": args["messages"], "model": "m"}
    headers = {"Authorization": "Bearer k"}
    return measure_calls(
        lambda: client.post("/v1/chat/completions", json=body, headers=headers).json(),
        args["n"],
        args.get("warmup", 0),
    )


# -- case 5: the SSE decoder alone --


def _decode(chunks: list[bytes]) -> tuple[float, int]:
    decoder = SSEDecoder()
    start = time.process_time()
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    decoder.finish()
    return time.process_time() - start, count


def sse(args: Mapping[str, Any]) -> dict[str, Any]:
    """``small``: seconds for ``events`` small events in 4 KiB chunks; ``large_one`` / ``large_split``:
    one 256 KiB event in one chunk / in 1 KiB chunks."""
    body = sse_input.small_events(args["events"])
    small, count = _decode(sse_input.chunked(body, 4096))
    assert count == args["events"]
    large = sse_input.large_event(args.get("large_bytes", sse_input.LARGE_EVENT_BYTES))
    tries = args.get("tries", 20)
    one = min(_decode([large])[0] for _ in range(tries))
    split = min(_decode(sse_input.chunked(large, sse_input.SMALL_CHUNK))[0] for _ in range(tries))
    larger = sse_input.large_event(4 * (len(large) - 8))
    split4 = min(_decode(sse_input.chunked(larger, sse_input.SMALL_CHUNK))[0] for _ in range(tries))
    return {
        "small": small,
        "small_bytes": len(body),
        "large_one": one,
        "large_split": split,
        "large4_split": split4,
    }


# -- case 6: async scaling --


def _async_client(backend: str) -> httpx.AsyncClient | None:
    """``default``: the SDK creates its own (linear pool); ``aiohttp``: a ``DefaultAioHttpClient``;
    ``stock``: a plain ``httpx.AsyncClient`` with the SDK's limits (httpcore's own pool)."""
    if backend == "aiohttp":
        return DefaultAioHttpClient()
    if backend == "stock":
        from atoma_sdk._runtime.clients import default_limits, default_timeout

        return httpx.AsyncClient(timeout=default_timeout(), limits=default_limits())
    return None


async def lanes(level: int, total: int, call: Callable[[], Awaitable[object]]) -> dict[str, Any]:
    """``total`` calls by ``level`` concurrent lanes after a warm-up round: calls/s, client CPU per call."""
    errors: list[str] = []
    # Warm up at this concurrency, so that connections are open before the clock starts.
    warm = await asyncio.gather(*(call() for _ in range(level)), return_exceptions=True)
    errors += [type(exc).__name__ for exc in warm if isinstance(exc, BaseException)]
    remaining = total

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                await call()
            except Exception as exc:
                errors.append(type(exc).__name__)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(level)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "calls_per_s": total / elapsed,
        "cpu_per_call": cpu / total,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def async_scale(args: Mapping[str, Any]) -> dict[str, Any]:
    """``kind``: ``confidential`` (default) or ``plain`` chat.create; ``backend``: :func:`_async_client`."""
    level, total = args["level"], args["calls"]
    messages, model = args["messages"], args["model"]
    plain = args.get("kind") == "plain"

    async def run() -> dict[str, Any]:
        given = _async_client(args.get("backend", "default"))
        options: dict[str, Any] = {"async_client": given}
        if "max_concurrent" in args:
            options["max_concurrent_requests"] = args["max_concurrent"]
        async with AtomaSDK(bearer_auth=args["api_key"], server_url=args["url"], **options) as sdk:
            resource: Any = sdk.chat if plain else sdk.confidential_chat
            result = await lanes(level, total, lambda: resource.create_async(messages=messages, model=model))
            if given is not None and not isinstance(given, DefaultAioHttpClient):
                await given.aclose()  # the SDK closes only a DefaultAioHttpClient it was given
            return result

    return asyncio.run(run())


# -- case 7: memory and connection reuse --


def _busy_connections(client: httpx.Client) -> int:
    pool: Any = getattr(client._transport, "_pool", None)
    if pool is None:
        return 0
    # In use: neither idle nor closed (a closed one holds no socket; the SDK's pool drops it from its
    # list on its next sweep or when it needs the room).
    return sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed())


def memory(args: Mapping[str, Any]) -> dict[str, Any]:
    """``calls`` confidential calls and ``streams`` streams (every tenth abandoned after two events);
    RSS after a warm-up tenth and at the end; connections still busy after any stream."""
    messages, model = args["messages"], args["model"]
    calls, streams = args["calls"], args["streams"]
    sdk = AtomaSDK(bearer_auth=args["api_key"], server_url=args["url"])
    chat = sdk.confidential_chat
    client = sdk._runtime.clients.sync()
    leaked_streams = 0
    max_connections = 0

    def work(n_calls: int, n_streams: int, offset: int) -> None:
        nonlocal leaked_streams, max_connections
        for _ in range(n_calls):
            chat.create(messages=messages, model=model)
        for i in range(n_streams):
            with chat.create_stream(messages=messages, model=model) as events:
                for j, _event in enumerate(events):
                    if (offset + i) % 10 == 9 and j == 1:
                        break
            if _busy_connections(client):
                leaked_streams += 1
            pool: Any = getattr(client._transport, "_pool", None)
            max_connections = max(max_connections, len(pool.connections) if pool is not None else 0)

    warm_calls, warm_streams = max(1, calls // 10), max(1, streams // 10)
    work(warm_calls, warm_streams, 0)
    gc.collect()
    rss_warm = rss_bytes()
    work(calls - warm_calls, streams - warm_streams, warm_streams)
    gc.collect()
    rss_end = rss_bytes()
    sdk.close()
    return {
        "rss_warm": rss_warm,
        "rss_end": rss_end,
        "leaked_streams": leaked_streams,
        "max_connections": max_connections,
        "calls": calls,
        "streams": streams,
    }


def main() -> None:
    serve(
        {
            "create": create,
            "stream": stream,
            "plain_sdk": plain_sdk,
            "plain_httpx": plain_httpx,
            "sse": sse,
            "async_scale": async_scale,
            "memory": memory,
            "ed25519_backend": lambda args: {"backend": sui.ED25519_BACKEND},
        }
    )


if __name__ == "__main__":
    main()
