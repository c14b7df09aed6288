"""What differs between the confidential operations: schemas, lock sizing, expected object types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_COMPUTE_UNITS: Final = 8192

__all__ = ["DEFAULT_COMPUTE_UNITS", "FLOWS", "Flow"]


@dataclass(frozen=True, slots=True)
class Flow:
    """One confidential flow (chat, completions, embeddings, images)."""

    name: str
    plaintext_request: str
    plaintext_stream_request: str | None
    response: str
    stream_item: str | None
    #: Expected ``object`` of the decrypted answer / chunk (None: not checked).
    response_object: str | None
    chunk_object: str | None
    #: Whether ``num_compute_units`` (and the lock's ``max_num_tokens``) are sent at all.
    sized: bool = True
    #: The model of one decrypted chunk: the ``data`` of ``stream_item`` (validated alone, then wrapped).
    stream_chunk: str | None = None

    def compute_units(self, params: Mapping[str, Any], explicit: int | None) -> int | None:
        """Units to lock and to declare: equal on both, so the proxy leaks no difference."""
        if not self.sized:
            return None
        if explicit is not None:
            return explicit
        if self.name == "images":
            return _pixels(params)
        return DEFAULT_COMPUTE_UNITS


def _pixels(params: Mapping[str, Any]) -> int:
    size = params.get("size")
    width, height = 1024, 1024
    if isinstance(size, str) and "x" in size:
        w, _, h = size.partition("x")
        if w.isdigit() and h.isdigit():
            width, height = int(w), int(h)
    n = params.get("n")
    return width * height * (n if isinstance(n, int) and n > 0 else 1)


FLOWS: Final[dict[str, Flow]] = {
    "chat": Flow(
        "chat",
        "CreateChatCompletionRequest",
        "CreateChatCompletionStreamRequest",
        "ChatCompletionResponse",
        "ChatCompletionStreamResponse",
        "chat.completion",
        "chat.completion.chunk",
        stream_chunk="ChatCompletionChunk",
    ),
    "completions": Flow(
        "completions",
        "CompletionsRequest",
        "CreateCompletionsStreamRequest",
        "CompletionsResponse",
        "CompletionsStreamResponse",
        "text_completion",
        "text_completion",
        stream_chunk="CompletionsStreamChunk",
    ),
    "embeddings": Flow(
        "embeddings",
        "CreateEmbeddingRequest",
        None,
        "CreateEmbeddingResponse",
        None,
        "list",
        None,
        sized=False,
    ),
    "images": Flow("images", "CreateImageRequest", None, "CreateImageResponse", None, None, None),
}
