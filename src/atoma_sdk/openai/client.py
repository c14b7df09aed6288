"""``ConfidentialOpenAI`` / ``AsyncConfidentialOpenAI`` and http clients for openai-based code (LangChain...).

The http client always matches the library the installed openai is built on (httpx for openai 1.x / 2.x,
httpx2 for 3.x). A client whose proxies or mounts would let a request bypass the confidential transport is
refused: a plaintext fallback never happens.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

import openai

from .. import errors
from .._runtime.config import BEARER_AUTH_ENV, resolve_server_url
from ..confidential.policy import VerificationPolicy
from ._answers import ReceiptCallback
from .transport import AsyncConfidentialTransport, ConfidentialTransport

__all__ = [
    "AsyncConfidentialOpenAI",
    "ConfidentialOpenAI",
    "async_confidential_http_client",
    "check_http_client",
    "confidential_http_client",
]

#: Keyword arguments of an http client that would route requests around its transport.
_BYPASS_KWARGS = ("proxy", "proxies", "mounts", "transport", "app")


def uses_httpx2() -> bool:
    """Whether the installed openai is built on httpx2 (openai 3.x) rather than httpx."""
    return any(cls.__module__.partition(".")[0] == "httpx2" for cls in openai.DefaultHttpxClient.__mro__)


def _transport_class(*, is_async: bool) -> type[Any]:
    """The confidential transport of the installed openai's HTTP library."""
    if uses_httpx2():
        from ._httpx2 import AsyncHttpx2ConfidentialTransport, Httpx2ConfidentialTransport

        return AsyncHttpx2ConfidentialTransport if is_async else Httpx2ConfidentialTransport
    return AsyncConfidentialTransport if is_async else ConfidentialTransport


def _transport_types() -> tuple[type[Any], ...]:
    return (
        ConfidentialTransport,
        AsyncConfidentialTransport,
        _transport_class(is_async=False),
        _transport_class(is_async=True),
    )


def check_http_client(client: Any) -> None:
    """Refuse an http client that could send a request around the confidential transport.

    Its transport must be a confidential transport, and every mount (proxies included) must be one too or
    fall back to it. Raises :class:`~atoma_sdk.errors.RequestValidationError`.
    """
    confidential = _transport_types()
    if not isinstance(getattr(client, "_transport", None), confidential):
        raise errors.RequestValidationError(
            "the http client does not send through a confidential transport (use confidential_http_client())"
        )
    mounts = getattr(client, "_mounts", None)
    if not isinstance(mounts, dict):
        raise errors.RequestValidationError("the http client's routing cannot be checked")
    if any(mount is not None and not isinstance(mount, confidential) for mount in mounts.values()):
        raise errors.RequestValidationError(
            "the http client has proxies or mounts that would bypass the confidential transport "
            "(give a proxy to the inner transport instead: inner_transport=httpx.HTTPTransport(proxy=...))"
        )


def _refuse_bypass(kwargs: dict[str, Any]) -> None:
    given = sorted(name for name in _BYPASS_KWARGS if kwargs.get(name) is not None)
    if given:
        raise errors.RequestValidationError(
            f"{', '.join(given)} would bypass the confidential transport; "
            "give a proxy to the inner transport instead (inner_transport=httpx.HTTPTransport(proxy=...))"
        )


def confidential_http_client(
    *,
    verification: VerificationPolicy | None = None,
    on_receipt: ReceiptCallback | None = None,
    inner_transport: httpx.BaseTransport | None = None,
    **client_kwargs: Any,
) -> openai.DefaultHttpxClient:
    """A sync http client for ``openai.OpenAI(http_client=...)`` / ``ChatOpenAI(http_client=...)``.

    It has openai's default settings plus ``client_kwargs`` (e.g. ``timeout``); ``proxy`` / ``mounts`` are
    refused (put a proxy into ``inner_transport``).
    """
    _refuse_bypass(client_kwargs)
    cls = _transport_class(is_async=False)
    transport = cls(verification=verification, on_receipt=on_receipt, inner=inner_transport)
    client = openai.DefaultHttpxClient(transport=transport, **client_kwargs)
    check_http_client(client)
    return client


def async_confidential_http_client(
    *,
    verification: VerificationPolicy | None = None,
    on_receipt: ReceiptCallback | None = None,
    inner_transport: httpx.AsyncBaseTransport | None = None,
    **client_kwargs: Any,
) -> openai.DefaultAsyncHttpxClient:
    """Async :func:`confidential_http_client` (``AsyncOpenAI``, ``ChatOpenAI(http_async_client=...)``)."""
    _refuse_bypass(client_kwargs)
    cls = _transport_class(is_async=True)
    transport = cls(verification=verification, on_receipt=on_receipt, inner=inner_transport)
    client = openai.DefaultAsyncHttpxClient(transport=transport, **client_kwargs)
    check_http_client(client)
    return client


def _client_kwargs(kwargs: dict[str, Any], http_client: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The openai constructor's arguments: Atoma's server and key by default, the checked http client."""
    if http_client is not None:
        if any(value is not None for value in options.values()):
            names = ", ".join(options)
            raise TypeError(f"pass {names} to the http client's transport, not together with http_client=")
        check_http_client(http_client)
    api_key = kwargs.get("api_key") or os.environ.get(BEARER_AUTH_ENV)
    if not api_key:
        # Never fall back to OPENAI_API_KEY: that key must not be sent to another provider.
        raise errors.RequestValidationError(f"an Atoma API key is needed: api_key=... or {BEARER_AUTH_ENV}")
    # Never OPENAI_BASE_URL either: the server is base_url=, else ATOMASDK_SERVER_URL, else Atoma's API.
    base_url = kwargs.get("base_url") or f"{resolve_server_url(None, None)}/v1"
    return {**kwargs, "api_key": api_key, "base_url": base_url, "http_client": http_client}


class ConfidentialOpenAI(openai.OpenAI):
    """``openai.OpenAI`` whose chat, completions, embeddings and images requests run confidentially.

    Takes openai's arguments (``base_url`` is the Atoma API's ``.../v1``; default ``$ATOMASDK_SERVER_URL/v1``,
    else Atoma's; ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` are never read) plus
    ``verification`` (a :class:`~atoma_sdk.VerificationPolicy`), ``on_receipt`` (called with each call's
    receipt) and ``inner_transport`` (the httpx transport that reaches the API). A given ``http_client``
    must already send through a confidential transport. Use it in a ``with`` block (or call ``close()``);
    a client left to the garbage collector closes its connections too.
    """

    def __init__(
        self,
        *,
        verification: VerificationPolicy | None = None,
        on_receipt: ReceiptCallback | None = None,
        inner_transport: httpx.BaseTransport | None = None,
        http_client: Any = None,
        **kwargs: Any,
    ) -> None:
        options = {"verification": verification, "on_receipt": on_receipt, "inner_transport": inner_transport}
        resolved = _client_kwargs(kwargs, http_client, options)
        if http_client is None:
            resolved["http_client"] = confidential_http_client(
                verification=verification, on_receipt=on_receipt, inner_transport=inner_transport
            )
        super().__init__(**resolved)


class AsyncConfidentialOpenAI(openai.AsyncOpenAI):
    """Async :class:`ConfidentialOpenAI` (``inner_transport`` is an ``httpx.AsyncBaseTransport``)."""

    def __init__(
        self,
        *,
        verification: VerificationPolicy | None = None,
        on_receipt: ReceiptCallback | None = None,
        inner_transport: httpx.AsyncBaseTransport | None = None,
        http_client: Any = None,
        **kwargs: Any,
    ) -> None:
        options = {"verification": verification, "on_receipt": on_receipt, "inner_transport": inner_transport}
        resolved = _client_kwargs(kwargs, http_client, options)
        if http_client is None:
            resolved["http_client"] = async_confidential_http_client(
                verification=verification, on_receipt=on_receipt, inner_transport=inner_transport
            )
        super().__init__(**resolved)
