"""Who answers a decrypted request: the built-in deterministic model or an OpenAI-compatible upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

from . import model, tool_model
from .config import NodeConfig

Json = dict[str, Any]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Operation:
    """One OpenAI-style operation the node serves, plaintext and confidential."""

    name: str
    upstream_path: str
    #: ``num_compute_units`` the proxy assumes when the request omits it (protocol.md §2.3).
    default_units: int
    complete: Callable[[Mapping[str, Any]], Json]
    chunks: Callable[[Mapping[str, Any]], list[Json]] | None = None
    #: Whether a sealed non-streamed answer carries ``usage`` (the node omits it for images, §12.4).
    sealed_usage: bool = True


CHAT = Operation(
    "chat", "/chat/completions", 8192, tool_model.chat_completion, tool_model.chat_completion_chunks
)
COMPLETIONS = Operation(
    "completions", "/completions", 8192, model.text_completion, model.text_completion_chunks
)
EMBEDDINGS = Operation("embeddings", "/embeddings", 8192, model.embeddings)
IMAGES = Operation("images", "/images/generations", 1024 * 1024, model.images, sealed_usage=False)


class AnswerError(Exception):
    """The request could not be answered. ``bad_request``: the input (a node 400); else the engine (500)."""

    def __init__(self, message: str, *, bad_request: bool) -> None:
        super().__init__(message)
        self.bad_request = bad_request


class Answerer:
    """Answers decrypted bodies; one per node (holds the upstream HTTP client when there is one)."""

    def __init__(self, config: NodeConfig) -> None:
        self._config = config
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def complete(self, op: Operation, body: Mapping[str, Any]) -> Json:
        """A whole answer object."""
        if self._config.upstream is None:
            return _builtin(op.complete, body)
        try:
            response = await self._upstream().post(self._url(op), json=dict(body), headers=self._headers())
        except httpx.HTTPError:
            raise AnswerError("the upstream server is unreachable", bad_request=False) from None
        if response.status_code >= 400:
            raise AnswerError(
                "the upstream server refused the request", bad_request=response.status_code < 500
            )
        try:
            answer = response.json()
        except ValueError:
            raise AnswerError("the upstream server answered invalid JSON", bad_request=False) from None
        if not isinstance(answer, dict):
            raise AnswerError("the upstream server answered a non-object", bad_request=False)
        return answer

    async def open_stream(self, op: Operation, body: Mapping[str, Any]) -> AsyncIterator[Json]:
        """The answer's chunks; errors before the first chunk raise here, later ones inside the iterator."""
        if self._config.upstream is None:
            if op.chunks is None:
                raise AnswerError("this operation cannot stream", bad_request=True)
            return self._paced(_builtin(op.chunks, body))
        upstream_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        client = self._upstream()
        request = client.build_request("POST", self._url(op), json=upstream_body, headers=self._headers())
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError:
            raise AnswerError("the upstream server is unreachable", bad_request=False) from None
        if response.status_code >= 400:
            await response.aclose()
            raise AnswerError(
                "the upstream server refused the request", bad_request=response.status_code < 500
            )
        return _upstream_chunks(response)

    async def _paced(self, chunks: list[Json]) -> AsyncIterator[Json]:
        for chunk in chunks:
            if self._config.token_delay > 0:
                await anyio.sleep(self._config.token_delay)  # each chunk takes its time, the first too
            yield chunk

    def _upstream(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._config.upstream_timeout)
        return self._client

    def _url(self, op: Operation) -> str:
        assert self._config.upstream is not None
        return self._config.upstream.rstrip("/") + op.upstream_path

    def _headers(self) -> dict[str, str]:
        key = self._config.upstream_api_key
        return {"authorization": f"Bearer {key}"} if key else {}


def _builtin(function: Callable[[Mapping[str, Any]], _T], body: Mapping[str, Any]) -> _T:
    try:
        return function(body)
    except model.ModelInputError as exc:
        raise AnswerError(str(exc), bad_request=True) from None


async def _upstream_chunks(response: httpx.Response) -> AsyncIterator[Json]:
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                chunk = json.loads(payload)
            except ValueError:
                raise AnswerError("the upstream server sent an invalid chunk", bad_request=False) from None
            if isinstance(chunk, dict):
                yield chunk
    finally:
        await response.aclose()
