"""Configuration of the local node: models, keys, lock policy, stream shape and upstream."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from ..confidential.sui import SuiKeyPair

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"
IMAGE_MODEL = "black-forest-labs/FLUX.1-schnell"
DEFAULT_MODELS = (CHAT_MODEL, EMBEDDING_MODEL, IMAGE_MODEL)


def _token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(repr=False)
class NodeConfig:
    """Everything that shapes a local node. Defaults mimic the real proxy + node (protocol.md).

    ``node_private_key`` / ``signer`` are generated when None. ``response_nonce`` fixes every response
    and stream nonce (test vectors only). ``keep_alive`` sends a ``: keep-alive`` comment after every
    ``keep_alive_interval`` seconds (15 ms, as the proxy) without an event; ``token_delay`` (seconds) is the
    time the built-in model takes for each chunk, the first one included. ``completions_stream_quirk`` plays
    the proxy bug that drops every chunk of a confidential completions stream (protocol.md §12.1: the
    client gets keep-alives, then the end of the body); turn it off to test native streaming.
    ``upstream`` is the base URL of an OpenAI-compatible server (e.g. ``http://127.0.0.1:8000/v1``) that
    answers instead of the built-in deterministic model.
    """

    api_key: str = field(default_factory=_token)
    admin_token: str = field(default_factory=_token)
    models: tuple[str, ...] = DEFAULT_MODELS
    node_small_id: int = 1
    first_stack_small_id: int = 1000
    lock_ttl: float = 5.0
    default_lock_units: int = 8192
    unique_chunk_nonces: bool = False
    keep_alive: bool = True
    keep_alive_interval: float = 0.015
    completions_stream_quirk: bool = True
    token_delay: float = 0.0
    upstream: str | None = None
    upstream_api_key: str | None = None
    upstream_timeout: float = 120.0
    node_private_key: X25519PrivateKey | None = None
    signer: SuiKeyPair | None = None
    response_nonce: bytes | None = field(default=None, repr=False)
    #: GPUs in the synthetic attestation evidence; its static key-rotation nonce (random when None).
    attestation_devices: int = 1
    key_rotation_nonce: int | None = None
    #: Request bodies: the size cap (bytes; 413 above it) and the longest pause between chunks (s; 408).
    max_body_size: int = 4 * 1024 * 1024
    body_timeout: float = 10.0
    #: Connections: headers must be complete this long after a request's first byte (s); a silent
    #: connection is closed after ``idle_timeout`` (s); ``max_connections`` caps open connections
    #: (None: derived from the open-files limit). See :mod:`atoma_sdk.local.guard`.
    header_timeout: float = 1.0
    idle_timeout: float = 65.0
    max_connections: int | None = None

    def __repr__(self) -> str:
        return (
            f"NodeConfig(models={self.models!r}, upstream={self.upstream!r}, "
            f"unique_chunk_nonces={self.unique_chunk_nonces!r}, "
            f"completions_stream_quirk={self.completions_stream_quirk!r}, <secrets redacted>)"
        )
