"""The one entry point generated confidential methods call for the plaintext form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._runtime.operation import Operation, RequestOptions
from .engine import ConfidentialCall
from .flows import FLOWS
from .policy import DEFAULT_POLICY, VerificationPolicy

__all__ = ["run"]


def run(
    runtime: Any,
    op: Operation[Any],
    params: Mapping[str, Any],
    options: RequestOptions,
    *,
    verification: VerificationPolicy | None = None,
    stream: bool,
    is_async: bool,
) -> Any:
    """Run a confidential call; returns the verified result, a stream, or (async) an awaitable of either."""
    if op.confidential is None or op.confidential not in FLOWS:
        raise TypeError(f"{op.operation_id} has no confidential plaintext form")
    body = dict(params)
    units = body.pop("num_compute_units", None)
    num_compute_units = units if isinstance(units, int) else None
    policy = verification or runtime.config.verification or DEFAULT_POLICY
    if not isinstance(policy, VerificationPolicy):
        raise TypeError("verification must be an atoma_sdk.VerificationPolicy")
    call = ConfidentialCall(
        runtime,
        op,
        FLOWS[op.confidential],
        body,
        options,
        policy,
        stream=stream,
        num_compute_units=num_compute_units,
    )
    return call.run_async() if is_async else call.run()
