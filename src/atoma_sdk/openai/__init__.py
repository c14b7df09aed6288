"""Confidential compute for code written against the official ``openai`` client (and LangChain).

``ConfidentialOpenAI`` / ``AsyncConfidentialOpenAI`` are drop-in ``openai.OpenAI`` / ``openai.AsyncOpenAI``;
``ConfidentialTransport`` / ``AsyncConfidentialTransport`` go into any httpx client (their httpx2 twins,
``Httpx2ConfidentialTransport`` / ``AsyncHttpx2ConfidentialTransport``, into httpx2 clients);
``confidential_http_client()`` / ``async_confidential_http_client()`` build the http client that fits the
installed openai. Needs the ``openai`` extra (``pip install 'atoma-sdk[openai]'``); names load lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._httpx2 import AsyncHttpx2ConfidentialTransport, Httpx2ConfidentialTransport
    from .client import (
        AsyncConfidentialOpenAI,
        ConfidentialOpenAI,
        async_confidential_http_client,
        check_http_client,
        confidential_http_client,
    )
    from .transport import AsyncConfidentialTransport, ConfidentialTransport

_LAZY = {
    "ConfidentialOpenAI": ".client",
    "AsyncConfidentialOpenAI": ".client",
    "confidential_http_client": ".client",
    "async_confidential_http_client": ".client",
    "check_http_client": ".client",
    "ConfidentialTransport": ".transport",
    "AsyncConfidentialTransport": ".transport",
    "Httpx2ConfidentialTransport": "._httpx2",
    "AsyncHttpx2ConfidentialTransport": "._httpx2",
}

__all__ = [
    "AsyncConfidentialOpenAI",
    "AsyncConfidentialTransport",
    "AsyncHttpx2ConfidentialTransport",
    "ConfidentialOpenAI",
    "ConfidentialTransport",
    "Httpx2ConfidentialTransport",
    "async_confidential_http_client",
    "check_http_client",
    "confidential_http_client",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atoma_sdk.openai' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
