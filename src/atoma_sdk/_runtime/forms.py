"""The two keyword forms of a generated confidential method, and how a call's keywords pick one.

Every generated confidential method (``create``, ``create_stream``, ``generate`` and their ``_async`` twins)
accepts two keyword forms, described by a :class:`ConfidentialForms` constant next to its operation:

* the raw wire form (``ciphertext=..., client_dh_public_key=..., ...``), sent as is;
* the plaintext form (``messages=...`` / ``prompt=...`` / ``input=...`` and the rest of the plaintext request,
  plus ``verification=``), encrypted by the confidential layer.

This module only parses keywords (pure, no I/O); the methods hand the call to
``atoma_sdk.confidential.seam.dispatch``, which the runtime never imports. Messages name keywords, never
values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .operation import RequestOptions
from .record import FrozenRecord, Record, set_field

__all__ = ["OPTION_NAMES", "ConfidentialForms", "Dispatch", "split"]

#: Per-call options every generated method takes (the fields of :class:`RequestOptions`).
OPTION_NAMES = ("retries", "server_url", "timeout_ms", "http_headers", "extra_body")
_VERIFICATION = "verification"


class ConfidentialForms(FrozenRecord):
    """The keywords of a confidential method's two forms (keyword -> JSON wire name)."""

    __slots__ = (
        "marker",
        "method",
        "plain",
        "plain_fixed",
        "plain_required",
        "raw",
        "raw_fixed",
        "raw_required",
    )
    #: The method as users call it (``"confidential_chat.create"``), for messages.
    method: str
    raw: Mapping[str, str]
    raw_required: tuple[str, ...]
    plain: Mapping[str, str]
    plain_required: tuple[str, ...]
    #: The plaintext keyword whose presence selects the plaintext form (``messages``, ``prompt``, ``input``).
    marker: str
    #: Body values the method always sends (``("stream", True)`` for stream methods). A caller may pass the
    #: keyword, with this value only.
    raw_fixed: tuple[tuple[str, Any], ...]
    plain_fixed: tuple[tuple[str, Any], ...]

    def __init__(
        self,
        method: str,
        raw: Mapping[str, str],
        raw_required: tuple[str, ...],
        plain: Mapping[str, str],
        plain_required: tuple[str, ...],
        marker: str,
        raw_fixed: tuple[tuple[str, Any], ...] = (),
        plain_fixed: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        set_field(self, "method", method)
        set_field(self, "raw", raw)
        set_field(self, "raw_required", raw_required)
        set_field(self, "plain", plain)
        set_field(self, "plain_required", plain_required)
        set_field(self, "marker", marker)
        set_field(self, "raw_fixed", raw_fixed)
        set_field(self, "plain_fixed", plain_fixed)


class Dispatch(Record):
    """The outcome of :func:`split`: which form, its body parameters by wire name, the options."""

    __slots__ = ("options", "params", "plaintext", "verification")

    def __init__(
        self, plaintext: bool, params: dict[str, Any], options: RequestOptions, verification: Any = None
    ) -> None:
        self.plaintext = plaintext
        self.params = params
        self.options = options
        self.verification = verification


def _names(keys: Any) -> str:
    return ", ".join(sorted(keys))


def split(forms: ConfidentialForms, kwargs: Mapping[str, Any]) -> Dispatch:
    """Decide the form of a call and split its keywords; TypeError when the keywords fit neither form."""
    where = f"{forms.method}()"
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
    fixed = dict(forms.plain_fixed if plaintext else forms.raw_fixed)
    for key, value in fixed.items():
        if key in given and given.pop(key) != value:
            raise TypeError(f"{where} only accepts {key}={value!r}")
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
    params.update(fixed)
    return Dispatch(plaintext, params, options, given.get(_VERIFICATION))
