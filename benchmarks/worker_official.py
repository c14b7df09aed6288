"""Benchmark worker for Atoma's official client ``atoma-sdk==0.1.3``, run from its own virtual environment.

``.bench/venv/bin/python -m benchmarks.worker_official`` (cwd = repository root, so that ``benchmarks`` is
importable while ``atoma_sdk`` is the official package). Only the official client's public calls are used,
plus its SSE helper for the decoder case.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from benchmarks import sse_input
from benchmarks.protocol import measure_calls, measure_stream, serve

warnings.simplefilter("ignore")

_official: Any = importlib.import_module("atoma_sdk")
_sdks: dict[tuple[str, str], Any] = {}


def _sdk(args: Mapping[str, Any]) -> Any:
    key = (args["url"], args["api_key"])
    if key not in _sdks:
        _sdks[key] = _official.AtomaSDK(bearer_auth=args["api_key"], server_url=args["url"])
    return _sdks[key]


def version(args: Mapping[str, Any]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    versions = {}
    for name in ("atoma-sdk", "pydantic", "pynacl"):
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = dist_version(name)
    return versions


def create(args: Mapping[str, Any]) -> dict[str, float]:
    chat, messages, model = _sdk(args).confidential_chat, args["messages"], args["model"]
    return measure_calls(
        lambda: chat.create(messages=messages, model=model), args["n"], args.get("warmup", 0)
    )


def stream(args: Mapping[str, Any]) -> dict[str, float]:
    chat, messages, model, tokens = (
        _sdk(args).confidential_chat,
        args["messages"],
        args["model"],
        args["max_tokens"],
    )

    def open_stream() -> Iterable[object]:
        events: Iterable[object] = chat.create_stream(messages=messages, model=model, max_tokens=tokens)
        return events

    return measure_stream(open_stream, args["n"], args.get("warmup", 0))


_plain: dict[str, Any] = {}


def plain(args: Mapping[str, Any]) -> dict[str, float]:
    if "sdk" not in _plain:
        content = json.dumps(args["canned"]).encode()
        headers = {"content-type": "application/json"}
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=content, headers=headers))
        client = httpx.Client(transport=transport)
        _plain["sdk"] = _official.AtomaSDK(bearer_auth="k", server_url="http://bench.invalid", client=client)
    chat, messages = _plain["sdk"].chat, args["messages"]
    return measure_calls(lambda: chat.create(messages=messages, model="m"), args["n"], args.get("warmup", 0))


class _Body:
    """Just enough of an httpx.Response for the official decoder: the chunks, as they are."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def iter_bytes(self) -> Iterable[bytes]:
        return iter(self._chunks)


def _decode(chunks: list[bytes]) -> float:
    stream_events = importlib.import_module("atoma_sdk.utils.eventstreaming").stream_events
    response = _Body(chunks)
    start = time.process_time()
    for _event in stream_events(response, lambda data: data):
        pass
    return time.process_time() - start


def sse(args: Mapping[str, Any]) -> dict[str, Any]:
    body = sse_input.small_events(args["events"])
    small = _decode(sse_input.chunked(body, 4096))
    large = sse_input.large_event(args.get("large_bytes", sse_input.LARGE_EVENT_BYTES))
    one = min(_decode([large]) for _ in range(args.get("tries", 1)))
    split = min(_decode(sse_input.chunked(large, sse_input.SMALL_CHUNK)) for _ in range(args.get("tries", 1)))
    return {"small": small, "small_bytes": len(body), "large_one": one, "large_split": split}


def main() -> None:
    serve({"version": version, "create": create, "stream": stream, "plain": plain, "sse": sse})


if __name__ == "__main__":
    main()
