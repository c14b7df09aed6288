"""Structured outputs and tools: ``parse()``, tools from pydantic models and typed functions, ``run_tools()``.

The names below are imported on first use (importing the package builds no pydantic class).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .accumulate import ChunkAccumulator
    from .runner import ToolRun
    from .schema import function_tool, pydantic_function_tool, response_format, strict_schema
    from .streams import ChatStream, ChatStreamAsync, ParsedStream, ParsedStreamAsync
    from .types import (
        ParsedChatCompletion,
        ParsedChatCompletionMessage,
        ParsedChoice,
        ParsedFunction,
        ParsedToolCall,
    )

__all__ = [
    "ChatStream",
    "ChatStreamAsync",
    "ChunkAccumulator",
    "ParsedChatCompletion",
    "ParsedChatCompletionMessage",
    "ParsedChoice",
    "ParsedFunction",
    "ParsedStream",
    "ParsedStreamAsync",
    "ParsedToolCall",
    "ToolRun",
    "function_tool",
    "pydantic_function_tool",
    "response_format",
    "strict_schema",
]

_WHERE = {
    "ChunkAccumulator": "accumulate",
    "ToolRun": "runner",
    "function_tool": "schema",
    "pydantic_function_tool": "schema",
    "response_format": "schema",
    "strict_schema": "schema",
    "ChatStream": "streams",
    "ChatStreamAsync": "streams",
    "ParsedStream": "streams",
    "ParsedStreamAsync": "streams",
    "ParsedChatCompletion": "types",
    "ParsedChatCompletionMessage": "types",
    "ParsedChoice": "types",
    "ParsedFunction": "types",
    "ParsedToolCall": "types",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'atoma_sdk.structured' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
