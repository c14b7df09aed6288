"""Benchmark worker for openai-python's ``AsyncOpenAI`` (``python -m benchmarks.worker_openai``): plain chat
against the local node with openai's default http client or its ``DefaultAioHttpClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import openai
from benchmarks.protocol import serve
from benchmarks.worker_sdk import lanes


def async_scale(args: Mapping[str, Any]) -> dict[str, Any]:
    level, total = args["level"], args["calls"]
    messages, model = args["messages"], args["model"]

    async def run() -> dict[str, Any]:
        http_client = openai.DefaultAioHttpClient() if args.get("backend") == "aiohttp" else None
        client = openai.AsyncOpenAI(
            api_key=args["api_key"], base_url=args["url"] + "/v1", http_client=http_client, max_retries=0
        )
        async with client:
            chat = client.chat.completions
            return await lanes(level, total, lambda: chat.create(messages=messages, model=model))

    return asyncio.run(run())


def main() -> None:
    serve({"async_scale": async_scale, "version": lambda args: {"openai": openai.__version__}})


if __name__ == "__main__":
    main()
