"""Atoma's evidence container: a zlib-compressed JSON list of ``{evidence_type, certificate, evidence}``.

Decompression is capped (zip-bomb guard) and the container is parsed strictly; a missing
``evidence_type`` means a GPU (``"device"``), as in the nvrust sample.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from atoma_sdk.attestation._reasons import MALFORMED_EVIDENCE, OVERSIZED, fail

MAX_COMPRESSED_BYTES: Final = 8 * 1024 * 1024
MAX_DECOMPRESSED_BYTES: Final = 8 * 1024 * 1024
MAX_ITEMS: Final = 64

EvidenceType = Literal["device", "nvswitch"]
_TYPES: Final[dict[str, EvidenceType]] = {
    "device": "device",
    "gpu": "device",
    "nvswitch": "nvswitch",
    "switch": "nvswitch",
}


@dataclass(frozen=True)
class EvidenceItem:
    """One device's evidence: its certificate chain (PEM or DER bytes) and its SPDM report bytes."""

    evidence_type: EvidenceType
    certificate_chain: bytes
    report: bytes


def decompress(compressed: bytes, *, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """zlib-decompress ``compressed``, refusing more than ``limit`` output bytes and any trailing bytes."""
    if len(compressed) > MAX_COMPRESSED_BYTES:
        fail(OVERSIZED, "compressed evidence is larger than the limit")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed, limit + 1)
    except zlib.error:
        fail(MALFORMED_EVIDENCE, "compressed evidence is not valid zlib data")
    if len(out) > limit or inflater.unconsumed_tail:
        fail(OVERSIZED, "decompressed evidence exceeds the size limit")
    if not inflater.eof:
        fail(MALFORMED_EVIDENCE, "compressed evidence is truncated")
    if inflater.unused_data:
        fail(MALFORMED_EVIDENCE, "trailing bytes after the compressed evidence")
    return out


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        fail(MALFORMED_EVIDENCE, f"{what} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        fail(MALFORMED_EVIDENCE, f"{what} is not valid base64")


def parse_evidence_list(document: bytes) -> list[EvidenceItem]:
    """Parse the decompressed JSON evidence list into :class:`EvidenceItem` objects."""
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError, RecursionError):
        fail(MALFORMED_EVIDENCE, "evidence is not valid JSON")
    if not isinstance(data, list) or not data:
        fail(MALFORMED_EVIDENCE, "evidence must be a non-empty JSON list")
    if len(data) > MAX_ITEMS:
        fail(OVERSIZED, "too many evidence items")
    items: list[EvidenceItem] = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            fail(MALFORMED_EVIDENCE, f"evidence item {index} is not an object")
        raw_type = entry.get("evidence_type") or "device"
        evidence_type = _TYPES.get(raw_type.lower()) if isinstance(raw_type, str) else None
        if evidence_type is None:
            fail(MALFORMED_EVIDENCE, f"evidence item {index} has an unknown evidence_type")
        items.append(
            EvidenceItem(
                evidence_type=evidence_type,
                certificate_chain=_b64(entry.get("certificate"), f"evidence item {index} certificate"),
                report=_b64(entry.get("evidence"), f"evidence item {index} report"),
            )
        )
    return items


def decode_evidence(compressed: bytes) -> list[EvidenceItem]:
    """Decompress (capped) and parse a node's ``compressed_evidence``."""
    return parse_evidence_list(decompress(compressed))


def encode_evidence(items: Sequence[EvidenceItem]) -> bytes:
    """The inverse of :func:`decode_evidence` (used by the synthetic builder and tests)."""
    document = [
        {
            "evidence_type": item.evidence_type,
            "certificate": base64.b64encode(item.certificate_chain).decode("ascii"),
            "evidence": base64.b64encode(item.report).decode("ascii"),
        }
        for item in items
    ]
    return zlib.compress(json.dumps(document).encode("utf-8"))
