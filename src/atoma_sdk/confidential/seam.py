"""The one public entry generated confidential methods call (imported on first call, never by the runtime).

:func:`dispatch` picks the form of a call (``atoma_sdk._runtime.forms.split``), sends the raw wire form
through the runtime as is, and runs the plaintext form through
:class:`~atoma_sdk.confidential.engine.ConfidentialCall`.
A non-stream method's ``stream=True`` is decided here too, once for sync and async: the plaintext form becomes
the method's stream twin (``create(stream=True)`` is ``create_stream()``), the raw form is refused before any
I/O (its answer would be an SSE stream the method cannot return).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._runtime.forms import ConfidentialForms, split
from .._runtime.operation import Operation, RequestOptions
from .engine import ConfidentialCall
from .flows import FLOWS
from .policy import DEFAULT_POLICY, VerificationPolicy

__all__ = ["dispatch", "run"]


def dispatch(
    runtime: Any,
    op: Operation[Any],
    forms: ConfidentialForms,
    kwargs: Mapping[str, Any],
    *,
    is_async: bool,
    stream_twin: tuple[Operation[Any], ConfidentialForms] | None = None,
) -> Any:
    """Run a generated confidential method's call: the result, a stream, or (async) an awaitable of either.

    ``stream_twin``: the stream method's operation and forms, for a method whose ``stream=True`` means it.
    """
    if stream_twin is not None and kwargs.get("stream") is True:
        if forms.marker not in kwargs:
            raise TypeError(
                f"{forms.method}(stream=True) with the raw wire form would get an SSE stream it cannot "
                f"return; call {stream_twin[1].method}() instead"
            )
        op, forms = stream_twin
    call = split(forms, kwargs)
    if call.plaintext:
        return run(
            runtime,
            op,
            call.params,
            call.options,
            verification=call.verification,
            stream=op.stream,
            is_async=is_async,
        )
    if op.stream:
        if is_async:
            return runtime.stream_async(op, call.params, call.options)
        return runtime.stream(op, call.params, call.options)
    if is_async:
        return runtime.call_async(op, call.params, call.options)
    return runtime.call(op, call.params, call.options)


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
