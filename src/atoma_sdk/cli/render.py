"""How the command shows receipts and confidentiality warnings: readable lines, never a warning dump."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..confidential.receipt import Receipt

__all__ = ["Warnings", "collect_warnings", "format_receipt"]


def _verdict(value: bool, what: str) -> str:
    return "verified" if value else f"NOT verified ({what} not required by the policy)"


def _pinning(pinned: bool | None) -> str:
    return {None: "not pinned", True: "pinned"}.get(pinned, "NOT pinned")


_ATTESTATION = {
    "unauthenticated": "not checked (no attestation source configured; the node key is trusted as served)",
    "off": "off (not checked)",
    "verified": "verified (GPU evidence under the trusted root commits to this node key)",
}


_BOUND: dict[bool | None, str] = {
    True: ": within the signed count",
    False: ": MORE than the signed count (duplicated or replayed)",
}


def format_receipt(receipt: Receipt) -> list[str]:
    """One confidential call's receipt as aligned ``name: value`` lines (identifiers and verdicts only)."""
    signer = f"{receipt.signer_address} ({receipt.signature_scheme}, {_pinning(receipt.signer_pinned)})"
    rows = [
        ("node", f"#{receipt.node_small_id}, stack #{receipt.stack_small_id}"),
        ("signer", signer),
        ("response hash", _verdict(receipt.response_hash_verified, "hash")),
        ("signature", _verdict(receipt.signature_verified, "signature")),
        ("attestation", _ATTESTATION.get(receipt.attestation, receipt.attestation)),
    ]
    if receipt.streamed:
        if receipt.stream_mode == "buffer":
            reuse = "avoided (answer buffered from a non-streamed request)"
        elif receipt.nonce_reuse:
            reuse = "YES: the node encrypted several chunks under one AES-GCM nonce"
        else:
            reuse = "no"
        rows.append(("nonce reuse", reuse))
        if receipt.completion_tokens is not None:
            counts = f"{receipt.content_chunks} with text, {receipt.completion_tokens} completion tokens"
            verdict = _BOUND.get(receipt.chunk_count_within_bound, "")
            rows.append(("chunks", f"{receipt.chunks} ({counts}){verdict}"))
    rows.append(("attempts", str(receipt.attempts)))
    width = max(len(name) for name, _ in rows) + 1
    return ["receipt:"] + [f"  {name + ':':<{width}} {value}" for name, value in rows]


class Warnings:
    """The distinct messages of the warnings recorded by :func:`collect_warnings`."""

    def __init__(self, records: list[warnings.WarningMessage]) -> None:
        self._records = records

    def messages(self) -> list[str]:
        from .._runtime.warn import cli_message

        distinct: list[str] = []
        for record in self._records:
            # The SDK's advice names Python settings; its command-line form names the command's flags.
            text = " ".join(cli_message(record.message).split())
            if text not in distinct:
                distinct.append(text)
        return distinct


@contextmanager
def collect_warnings() -> Iterator[Warnings]:
    """Record the SDK's warnings instead of printing them (the command shows each once, as one line).

    ``ConfidentialityWarning`` is always recorded; other warnings follow the interpreter's filters.
    """
    from ..confidential.policy import ConfidentialityWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfidentialityWarning)
        yield Warnings(caught)
