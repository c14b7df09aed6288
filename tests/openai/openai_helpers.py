"""Shared constants and a counting inner transport for the openai tests (imported by name: no package)."""

from __future__ import annotations

from collections import Counter

import httpx

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"
IMAGE_MODEL = "black-forest-labs/FLUX.1-schnell"
LOCK = "/v1/nodes/lock"
CONFIDENTIAL_CHAT = "/v1/confidential/chat/completions"


class CountingTransport(httpx.BaseTransport):
    """A real HTTP transport that counts the paths it sent."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.paths: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncCountingTransport(httpx.AsyncBaseTransport):
    """Async :class:`CountingTransport`."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
