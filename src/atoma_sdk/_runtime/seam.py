"""The confidential seam: how a generated confidential method picks its form and where it sends it.

Every generated confidential method (``create``, ``create_stream``, ``generate`` and their ``_async`` twins)
accepts two keyword forms, described by a :class:`ConfidentialForms` constant next to its operation:

* the raw wire form (``ciphertext=..., client_dh_public_key=..., ...``): sent as is through
  ``Runtime.call`` / ``Runtime.stream`` (and their async twins);
* the plaintext form (``messages=...`` / ``prompt=...`` / ``input=...`` and the rest of the plaintext request,
  plus ``verification=``): handed to ``atoma_sdk.confidential.seam.run``, imported on first use.

Which form is meant is decided here, once, for sync and async alike. Messages name keywords, never values.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .operation import Operation, RequestOptions

if TYPE_CHECKING:
    from .core import Runtime

__all__ = ["OPTION_NAMES", "ConfidentialForms", "Dispatch", "dispatch_confidential", "split"]

#: Per-call options every generated method takes (the fields of :class:`RequestOptions`).
OPTION_NAMES = ("retries", "server_url", "timeout_ms", "http_headers", "extra_body")
_VERIFICATION = "verification"


@dataclass(frozen=True, slots=True)
class ConfidentialForms:
    """The keywords of a confidential method's two forms (keyword -> JSON wire name)."""

    raw: Mapping[str, str]
    raw_required: tuple[str, ...]
    plain: Mapping[str, str]
    plain_required: tuple[str, ...]
    #: The plaintext keyword whose presence selects the plaintext form (``messages``, ``prompt``, ``input``).
    marker: str
    #: Body values the method always sends (``("stream", True)`` for stream methods).
    raw_fixed: tuple[tuple[str, Any], ...] = ()
    plain_fixed: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Dispatch:
    """The outcome of :func:`split`: which form, its body parameters by wire name, the options."""

    plaintext: bool
    params: dict[str, Any]
    options: RequestOptions
    verification: Any = None


def _names(keys: Any) -> str:
    return ", ".join(sorted(keys))


def split(op: Operation[Any], forms: ConfidentialForms, kwargs: Mapping[str, Any]) -> Dispatch:
    """Decide the form of a call and split its keywords; TypeError when the keywords fit neither form."""
    where = f"{op.operation_id}()"
    options = RequestOptions(**{k: kwargs[k] for k in OPTION_NAMES if k in kwargs})
    given = {k: v for k, v in kwargs.items() if k not in OPTION_NAMES}
    raw_only = [k for k in forms.raw if k not in forms.plain and k in given]
    plaintext = forms.marker in given
    if raw_only and plaintext:
        raise TypeError(
            f"{where} got both the raw wire form ({_names(raw_only)}) and the plaintext form "
            f"({forms.marker}); pass one of them"
        )
    if not raw_only and not plaintext:
        raise TypeError(
            f"{where} needs either the plaintext form ({forms.marker}=..., ...) or the raw wire form "
            f"({', '.join(forms.raw_required)})"
        )
    allowed = set(forms.plain) | {_VERIFICATION} if plaintext else set(forms.raw)
    unknown = [k for k in given if k not in allowed]
    if unknown:
        form = "plaintext" if plaintext else "raw wire"
        raise TypeError(f"{where} got unexpected keyword argument(s) for the {form} form: {_names(unknown)}")
    required = forms.plain_required if plaintext else forms.raw_required
    missing = [k for k in required if k not in given]
    if missing:
        raise TypeError(f"{where} is missing required keyword argument(s): {_names(missing)}")
    mapping = forms.plain if plaintext else forms.raw
    params = {mapping[k]: v for k, v in given.items() if k != _VERIFICATION}
    params.update(forms.plain_fixed if plaintext else forms.raw_fixed)
    return Dispatch(plaintext, params, options, given.get(_VERIFICATION))


def dispatch_confidential(
    runtime: Runtime,
    op: Operation[Any],
    forms: ConfidentialForms,
    kwargs: Mapping[str, Any],
    *,
    stream: bool,
    is_async: bool,
) -> Any:
    """Run a confidential method call; returns the result, or an awaitable of it when ``is_async``."""
    call = split(op, forms, kwargs)
    if call.plaintext:
        flow = importlib.import_module("atoma_sdk.confidential.seam")
        return flow.run(
            runtime,
            op,
            call.params,
            call.options,
            verification=call.verification,
            stream=stream,
            is_async=is_async,
        )
    if stream:
        if is_async:
            return runtime.stream_async(op, call.params, call.options)
        return runtime.stream(op, call.params, call.options)
    if is_async:
        return runtime.call_async(op, call.params, call.options)
    return runtime.call(op, call.params, call.options)
