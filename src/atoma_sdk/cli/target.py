"""Which server the client commands talk to: ``--server-url``, Atoma's API, or a local node in-process."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit, urlunsplit

from .exits import EXIT_CONNECTION, EXIT_USAGE, CLIError

if TYPE_CHECKING:
    from ..confidential.policy import VerificationPolicy
    from ..sdk import AtomaSDK

TOKEN_ENV = "ATOMASDK_BEARER_AUTH"


SERVER_ENV = "ATOMASDK_SERVER_URL"


def _server_url(args: argparse.Namespace) -> str | None:
    """``--server-url``, else ``ATOMASDK_SERVER_URL`` (as the SDK resolves it), else None."""
    return args.server_url or os.environ.get(SERVER_ENV, "").strip() or None


def wants_local(args: argparse.Namespace) -> bool:
    """``--local``, or neither a server URL (option or variable) nor a token: use a local node."""
    return bool(args.local) or (_server_url(args) is None and not os.environ.get(TOKEN_ENV))


@contextmanager
def open_sdk(args: argparse.Namespace, err: TextIO) -> Iterator[AtomaSDK]:
    """An ``AtomaSDK`` for the client commands; connection failures name the server they concern."""
    from ..sdk import AtomaSDK

    timeout_ms = None if args.timeout is None else max(1, int(args.timeout * 1000))
    if not wants_local(args):
        verification = (
            _local_node_attestation(_server_url(args)) if getattr(args, "local_attestation", False) else None
        )
        sdk = AtomaSDK(server_url=args.server_url, timeout_ms=timeout_ms, verification=verification)
        with sdk, _naming_server(sdk.sdk_configuration.server_url):
            yield sdk
        return
    with _local_node() as (url, token, verification):
        reason = "" if args.local else f" (no --server-url and no {TOKEN_ENV})"
        note = "its model is deterministic, not a language model, and its attestation evidence is synthetic"
        err.write(f"atoma: using a local node at {url}{reason}; {note}\n")
        err.flush()
        with (
            AtomaSDK(
                bearer_auth=token, server_url=url, timeout_ms=timeout_ms, verification=verification
            ) as sdk,
            _naming_server(url),
        ):
            yield sdk


@contextmanager
def _local_node() -> Iterator[tuple[str, str, VerificationPolicy]]:
    """A node in-process, and a policy that enforces attestation against its synthetic evidence."""
    try:
        from ..local.server import LocalNode
    except ImportError:
        raise CLIError("the local node needs the 'local' extra: pip install 'atoma-sdk[local]'") from None
    from ..confidential.policy import VerificationPolicy

    with LocalNode() as node:
        try:
            import blake3  # noqa: F401  (the evidence's nonce is a BLAKE3 hash)

            verifier = node.attestation_verifier()
            policy = VerificationPolicy(attestation="enforce", attestation_verifier=verifier)
        except ImportError:
            policy = VerificationPolicy(attestation="off")
        yield node.url, node.api_key, policy


def _local_node_attestation(url: str | None) -> VerificationPolicy:
    """Enforced attestation against what an ``atoma node`` publishes at ``/_local/attestation``."""
    import httpx

    from ..attestation import AttestationVerifier, ProxyServiceEvidenceSource, StaticRotationNonceSource
    from ..confidential.policy import VerificationPolicy

    if url is None:
        raise CLIError("--local-attestation needs --server-url (an `atoma node`)", EXIT_USAGE)
    try:
        info = httpx.get(url.rstrip("/") + "/_local/attestation", timeout=10).raise_for_status().json()
        verifier = AttestationVerifier(
            ProxyServiceEvidenceSource(url),
            StaticRotationNonceSource(
                int(info["key_rotation_nonce"]), counter=info.get("key_rotation_counter")
            ),
            trusted_roots=[str(info["root_pem"]).encode("ascii")],
            min_devices=int(info.get("devices", 1)),
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise CLIError(
            f"{_public(url)} publishes no local attestation ({type(exc).__name__})", EXIT_CONNECTION
        ) from None
    return VerificationPolicy(attestation="enforce", attestation_verifier=verifier)


@contextmanager
def _naming_server(url: str) -> Iterator[None]:
    from ..errors import APIConnectionError

    try:
        yield
    except APIConnectionError as exc:
        raise CLIError(f"cannot reach {_public(url)}: {exc}", EXIT_CONNECTION) from None


def _public(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
