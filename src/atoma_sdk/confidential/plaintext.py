"""Request plaintexts a body hash cannot confirm or link: random JSON whitespace and optional padding.

``plaintext_body_hash`` is an unkeyed BLAKE2b-256 of the exact plaintext bytes the proxy sees (threat model
A5). Inserting :data:`NOISE_BITS` bits of random insignificant whitespace (space, tab, LF, CR: JSON
whitespace, which serde_json skips between tokens) makes the hash of a guessed prompt unguessable and two
identical prompts unlinkable. The compact JSON is never re-serialised: a string-aware scan finds up to
:data:`MAX_SITES` structural positions (after ``{``, ``[``, ``,`` and ``:`` outside strings) in the first
:data:`SCAN_BYTES` bytes; the noise is spread over those, the start and the end. Padding appends spaces up
to a size bucket so the ciphertext length no longer tells the prompt length.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Final

from .. import errors

__all__ = [
    "MAX_SITES",
    "NOISE_BITS",
    "SCAN_BYTES",
    "PadTo",
    "noise",
    "pad",
    "padded_length",
    "prepare",
    "randomise",
]

#: Random bits of whitespace added to every request plaintext (2 bits per character).
NOISE_BITS: Final = 160
#: At most this many structural positions receive noise (plus the start and the end).
MAX_SITES: Final = 32
#: ``pad_to``: a bucket size in bytes (length rounded up to a multiple), or ``length -> padded length``.
PadTo = int | Callable[[int], int]

_SYMBOLS: Final = b" \t\n\r"
#: One random byte per symbol, of which the low 2 bits pick it (a uniform byte makes them uniform).
_SYMBOL_OF: Final = bytes(_SYMBOLS[b & 3] for b in range(256))
#: Only this many leading bytes are scanned, so the cost does not grow with the prompt.
SCAN_BYTES: Final = 4096
# A JSON string (closed, or cut off by the end of the scanned prefix), or a structural byte after which
# whitespace may follow. Scanning a prefix of valid JSON this way never mistakes string content for structure.
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[{\[,:]', re.DOTALL)


def noise() -> bytes:
    """:data:`NOISE_BITS` uniformly random bits as JSON whitespace (four symbols, 2 bits each)."""
    return secrets.token_bytes(NOISE_BITS // 2).translate(_SYMBOL_OF)  # one C call (~2 us -> ~1 us)


def _sites(body: bytes) -> list[int]:
    sites = [0]
    for match in _TOKEN.finditer(body[:SCAN_BYTES]):
        if body[match.start()] != 0x22:  # not a string
            sites.append(match.end())
            if len(sites) > MAX_SITES:
                break
    sites.append(len(body))
    return sites


def randomise(body: bytes) -> bytes:
    """``body`` (JSON) with :func:`noise` spread over its start, first structural positions and end."""
    fill = noise()
    sites = _sites(body)
    share, extra = divmod(len(fill), len(sites))  # the first `extra` sites take one symbol more
    # Large bodies are sliced without copies (joining large bytes slices is much slower).
    view: bytes | memoryview = memoryview(body) if len(body) > SCAN_BYTES else body
    parts: list[bytes | memoryview] = []
    append = parts.append
    previous = used = 0
    for site in sites:  # the last site is the end of the body
        take = share + 1 if extra > 0 else share
        extra -= 1
        append(view[previous:site])
        append(fill[used : used + take])
        previous = site
        used += take
    return b"".join(parts)


def padded_length(length: int, pad_to: PadTo) -> int:
    """The length ``length`` bytes are padded to under ``pad_to``."""
    if callable(pad_to):
        target = pad_to(length)
        if isinstance(target, bool) or not isinstance(target, int) or target < length:
            raise errors.RequestValidationError("pad_to returned a length shorter than the request")
        return target
    return -(-length // pad_to) * pad_to


def pad(body: bytes, pad_to: PadTo) -> bytes:
    """``body`` followed by spaces (trailing JSON whitespace) up to :func:`padded_length`."""
    return body + b" " * (padded_length(len(body), pad_to) - len(body))


def prepare(body: bytes, *, randomize: bool, pad_to: PadTo | None) -> bytes:
    """The plaintext one attempt encrypts: randomised (fresh noise per call) and padded as asked."""
    if randomize:
        body = randomise(body)
    if pad_to is not None:
        body = pad(body, pad_to)
    return body
