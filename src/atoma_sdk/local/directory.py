"""The proxy's directory routes without auth: ``GET /v1/open_router/models`` and ``POST /v1/nodes``."""

from __future__ import annotations

from typing import Any

from ..confidential import sui
from ..confidential.envelope import body_hash
from ..errors import AtomaError
from .wire import dumps

#: ``NodePublicAddressAssignment`` fields, in the order the proxy serializes (and hashes) them.
_ASSIGNMENT = ("node_small_id", "public_address", "country")


class RegistrationError(Exception):
    """A ``POST /v1/nodes`` the proxy refuses: ``status`` 400 (with a detail) or 404."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail)
        self.status = status


def open_router_models(models: tuple[str, ...]) -> dict[str, Any]:
    """The proxy's OpenRouter models file (as its ``open_router.example.json``), one entry a model."""
    return {"data": [_open_router_entry(model) for model in models]}


def _open_router_entry(model: str) -> dict[str, Any]:
    return {
        "id": model,
        "name": model,
        "created": 0,
        "description": "Served by the local node's deterministic built-in model (or its upstream).",
        "context_length": 131072,
        "max_completion_tokens": 4096,
        "quantization": "fp8",
        "pricing": {"prompt": "0", "completion": "0", "image": "0", "request": "0"},
    }


def check_registration(body: dict[str, Any] | None, node_small_id: int, signer_address: str) -> None:
    """Accept a node's address registration as the proxy does, or raise :class:`RegistrationError`.

    The signature is a Sui signature over BLAKE2b-256 of the compact JSON of ``data``; the proxy knows
    one node here, ``node_small_id``, whose key has ``signer_address``.
    """
    data = body.get("data") if body is not None else None
    signature = body.get("signature") if body is not None else None
    if not (isinstance(data, dict) and isinstance(signature, str) and _is_assignment(data)):
        raise RegistrationError(400, "Failed to parse body as JSON: expected `data` and `signature`")
    assignment = {name: data[name] for name in _ASSIGNMENT}
    try:
        signer = sui.verify(signature, body_hash(dumps(assignment)))
    except AtomaError:
        raise RegistrationError(400, "Failed to verify signature") from None
    if assignment["node_small_id"] != node_small_id:
        raise RegistrationError(404)  # the proxy knows no Sui address for that node
    if signer.address != signer_address:
        raise RegistrationError(
            400, "The sui address associated with the node small ID does not match the signature sui address"
        )


def _is_assignment(data: dict[str, Any]) -> bool:
    small_id = data.get("node_small_id")
    return (
        isinstance(small_id, int)
        and not isinstance(small_id, bool)
        and small_id >= 0
        and isinstance(data.get("public_address"), str)
        and isinstance(data.get("country"), str)
    )
