"""Strict parser for NVIDIA's SPDM 1.1 GET_MEASUREMENTS request + MEASUREMENTS response ("the report").

Layout: request ``ver E0 param1 param2 nonce(32) slot`` (37 bytes); response ``ver 60 p1 p2 nblocks
len(u24 LE) record nonce(32) opaque_len(u16 LE) opaque signature(96)``. Measurement blocks are
``index spec size(u16) [dmtf_type size(u16) value]``; NVIDIA's opaque data is a list of
``type(u16 LE) size(u16 LE) value`` fields. The signature (raw ``r || s``, P-384) covers everything
before it. Any length that does not add up exactly is ``malformed-evidence``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from atoma_sdk.attestation._reasons import MALFORMED_EVIDENCE, fail

REQUEST_LENGTH: Final = 37
NONCE_LENGTH: Final = 32
SIGNATURE_LENGTH: Final = 96
MAX_REPORT_BYTES: Final = 1024 * 1024
REQUEST_CODE: Final = 0xE0
RESPONSE_CODE: Final = 0x60

OPAQUE_DRIVER_VERSION: Final = 3
OPAQUE_VBIOS_VERSION: Final = 6
OPAQUE_FWID: Final = 20


@dataclass(frozen=True)
class MeasurementBlock:
    """One SPDM measurement block (DMTF format)."""

    index: int
    specification: int
    dmtf_type: int
    value: bytes


@dataclass(frozen=True)
class SpdmReport:
    """A parsed report; ``signed_bytes`` is what ``signature`` (raw r||s) covers."""

    spdm_version: int
    requester_nonce: bytes
    responder_nonce: bytes
    slot: int
    measurement_record: bytes
    measurements: tuple[MeasurementBlock, ...]
    opaque_fields: tuple[tuple[int, bytes], ...]
    signed_bytes: bytes
    signature: bytes

    def opaque(self, field_type: int) -> bytes | None:
        """The first opaque field of ``field_type``, or None."""
        return next((value for kind, value in self.opaque_fields if kind == field_type), None)

    @property
    def fwid(self) -> bytes | None:
        """The FWID opaque field (type 20), when present."""
        return self.opaque(OPAQUE_FWID)

    @property
    def measurements_digest(self) -> bytes:
        """SHA-384 over the raw measurement record."""
        return hashlib.sha384(self.measurement_record).digest()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            fail(MALFORMED_EVIDENCE, f"report truncated in {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "little")

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


def _parse_measurements(record: bytes, count: int) -> tuple[MeasurementBlock, ...]:
    reader = _Reader(record)
    blocks: list[MeasurementBlock] = []
    while reader.remaining:
        index = reader.uint(1, "measurement index")
        spec = reader.uint(1, "measurement specification")
        size = reader.uint(2, "measurement size")
        body = _Reader(reader.take(size, "measurement"))
        dmtf_type = body.uint(1, "DMTF value type")
        value = body.take(body.uint(2, "DMTF value size"), "DMTF value")
        if body.remaining:
            fail(MALFORMED_EVIDENCE, "measurement block size does not match its value")
        blocks.append(MeasurementBlock(index, spec, dmtf_type, value))
    if len(blocks) != count:
        fail(MALFORMED_EVIDENCE, "measurement block count does not match the record")
    return tuple(blocks)


def _parse_opaque(data: bytes) -> tuple[tuple[int, bytes], ...]:
    reader = _Reader(data)
    fields: list[tuple[int, bytes]] = []
    while reader.remaining:
        kind = reader.uint(2, "opaque field type")
        fields.append((kind, reader.take(reader.uint(2, "opaque field size"), "opaque field")))
    return tuple(fields)


def parse_report(report: bytes) -> SpdmReport:
    """Parse one report; raises ``AttestationError`` (``malformed-evidence``) on any inconsistency."""
    if len(report) > MAX_REPORT_BYTES:
        fail(MALFORMED_EVIDENCE, "report is too large")
    reader = _Reader(report)
    version, code, param1, _param2 = reader.take(4, "request header")
    if code != REQUEST_CODE or not param1 & 0x01:
        fail(MALFORMED_EVIDENCE, "report does not start with a signed GET_MEASUREMENTS request")
    requester_nonce = reader.take(NONCE_LENGTH, "requester nonce")
    slot = reader.uint(1, "slot")
    r_version, r_code, _p1, _p2 = reader.take(4, "response header")
    if r_code != RESPONSE_CODE or r_version != version:
        fail(MALFORMED_EVIDENCE, "report has no matching MEASUREMENTS response")
    count = reader.uint(1, "block count")
    record = reader.take(reader.uint(3, "record length"), "measurement record")
    responder_nonce = reader.take(NONCE_LENGTH, "responder nonce")
    opaque = reader.take(reader.uint(2, "opaque length"), "opaque data")
    if reader.remaining != SIGNATURE_LENGTH:
        problem = "truncated signature" if reader.remaining < SIGNATURE_LENGTH else "trailing bytes"
        fail(MALFORMED_EVIDENCE, f"report has a {problem}")
    return SpdmReport(
        spdm_version=version,
        requester_nonce=requester_nonce,
        responder_nonce=responder_nonce,
        slot=slot,
        measurement_record=record,
        measurements=_parse_measurements(record, count),
        opaque_fields=_parse_opaque(opaque),
        signed_bytes=report[:-SIGNATURE_LENGTH],
        signature=report[-SIGNATURE_LENGTH:],
    )
