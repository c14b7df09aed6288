"""Which intercepted requests run confidentially, and what each one asks for (pure: no I/O).

A ``POST`` to ``.../chat/completions``, ``.../completions``, ``.../embeddings`` or ``.../images/generations``
becomes one confidential unit; ``GET`` / ``HEAD`` / ``OPTIONS`` requests are forwarded unchanged; any other
request is refused, because forwarding it would send its content in plaintext.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .. import confidential_chat, confidential_completions, confidential_embeddings, confidential_images
from .._runtime.jsonsafe import loads
from .._runtime.operation import Operation
from ..confidential.flows import FLOWS, Flow
from ..errors import MalformedResponseError

__all__ = ["FORWARDED_METHODS", "Intercept", "Refusal", "confidential_suffix", "parse", "timeout_ms"]

#: Methods forwarded to the API unchanged (they carry no prompt).
FORWARDED_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

# Path suffix -> (flow, operation, stream operation). "/chat/completions" must be tried before "/completions".
_ROUTES: Final[tuple[tuple[str, str, Operation[Any], Operation[Any] | None], ...]] = (
    ("/chat/completions", "chat", confidential_chat.CREATE, confidential_chat.CREATE_STREAM),
    (
        "/completions",
        "completions",
        confidential_completions.CREATE,
        confidential_completions.CREATE_STREAM,
    ),
    ("/embeddings", "embeddings", confidential_embeddings.CREATE, None),
    ("/images/generations", "images", confidential_images.GENERATE, None),
)


class Refusal(Exception):
    """A request that is answered locally with an error (never sent anywhere)."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Intercept:
    """One OpenAI request turned into the parameters of a confidential unit."""

    op: Operation[Any]
    flow: Flow
    #: The Atoma API's base URL: the client's base URL without the trailing ``/v1``.
    server_url: str
    authorization: str | None
    #: The OpenAI body without ``stream`` (the confidential flow sets it).
    params: dict[str, Any]
    stream: bool
    #: Whether the caller asked for the final usage chunk (``stream_options.include_usage``).
    include_usage: bool
    #: Whether the caller asked for base64 embeddings (the node is asked for floats, converted afterwards).
    base64_embeddings: bool
    timeout_ms: int | None


def confidential_suffix(method: str, path: str) -> str | None:
    """The route suffix when ``method path`` is a confidential route; else None."""
    if method.upper() != "POST":
        return None
    trimmed = path.rstrip("/")
    for suffix, *_ in _ROUTES:
        if trimmed.endswith(suffix):
            return suffix
    return None


def parse(
    *,
    method: str,
    scheme: str,
    netloc: str,
    path: str,
    authorization: str | None,
    content: bytes,
    timeout: Mapping[str, Any] | None,
) -> Intercept:
    """Decide what a confidential-route request asks for; raises :class:`Refusal` when it cannot run."""
    suffix = confidential_suffix(method, path)
    if suffix is None:
        raise Refusal(
            400,
            f"{method.upper()} {path} has no confidential form; it is not sent in plaintext",
            "not_confidential",
        )
    _, flow_name, op, stream_op = next(route for route in _ROUTES if route[0] == suffix)
    body = _json_object(content)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Refusal(400, "the request body needs a 'model' string", "invalid_request")
    stream = body.get("stream") is True
    if stream and stream_op is None:
        raise Refusal(400, f"{suffix.lstrip('/')} cannot be streamed confidentially", "invalid_request")
    params = {key: value for key, value in body.items() if key != "stream"}
    base64_embeddings = flow_name == "embeddings" and params.get("encoding_format") == "base64"
    if base64_embeddings:
        params["encoding_format"] = "float"
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, Mapping) and options.get("include_usage") is True
    prefix = path.rstrip("/")[: -len(suffix)]
    prefix = prefix.removesuffix("/v1")
    return Intercept(
        op=stream_op if stream and stream_op is not None else op,
        flow=FLOWS[flow_name],
        server_url=f"{scheme}://{netloc}{prefix}",
        authorization=authorization,
        params=params,
        stream=stream,
        include_usage=include_usage,
        base64_embeddings=base64_embeddings,
        timeout_ms=timeout_ms(timeout),
    )


def timeout_ms(timeout: Mapping[str, Any] | None) -> int | None:
    """The per-phase timeout of an httpx request (its ``timeout`` extension) in milliseconds; None: unset."""
    if not timeout:
        return None
    values = [v for v in timeout.values() if isinstance(v, (int, float)) and v > 0]
    return max(1, int(max(values) * 1000)) if values else None


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        value = loads(content, "the request body")
    except MalformedResponseError:
        raise Refusal(400, "the request body is not JSON", "invalid_request") from None
    if not isinstance(value, dict):
        raise Refusal(400, "the request body is not a JSON object", "invalid_request")
    return value
