"""Byte inputs for the SSE decoder case, shared by the SDK and official-client workers (stdlib only)."""

from __future__ import annotations

import json

LARGE_EVENT_BYTES = 256 * 1024
SMALL_CHUNK = 1024


def small_events(count: int) -> bytes:
    """``count`` realistic confidential chunk events (~330 bytes each), one body."""
    payload = json.dumps(
        {"ciphertext": "Q" * 200, "nonce": "A" * 16, "response_hash": "H" * 44, "signature": "S" * 60},
        separators=(",", ":"),
    )
    return (f"data: {payload}\n\n" * count).encode()


def large_event(size: int = LARGE_EVENT_BYTES) -> bytes:
    """One event whose data line is ``size`` bytes."""
    return b"data: " + b"x" * size + b"\n\n"


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]
