"""Property: any split of a body into chunks decodes like the whole body and like a reference decoder."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk._runtime.sse import SSEDecoder

Event = tuple[str, str, "str | None", "int | None"]


def reference(body: bytes) -> list[Event]:
    """A direct, non-incremental transcription of the WHATWG algorithm."""
    text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece is unterminated
    events: list[Event] = []
    data: list[str] = []
    event_type = ""
    last_id: str | None = None
    retry: int | None = None
    for line in lines:
        if line == "":
            if data:
                events.append(("\n".join(data), event_type or "message", last_id, retry))
            data, event_type, retry = [], "", None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


def run(chunks: list[bytes]) -> list[Event]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)] + decoder.finish()
    return [(e.data, e.event, e.id, e.retry) for e in events]


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(body)) for c in cuts})
    bounds = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


# Bodies built from tokens that are interesting to the algorithm (line ends, field names, split and
# invalid UTF-8, NUL, BOM) so that random concatenations hit the edge cases often.
TOKENS = [
    b"data:", b"data: ", b"data", b"event: ", b"id: ", b"id:", b"retry: ", b"retry:", b":", b": c",
    b"foo", b" ", b"x", b"7", b"42", b"\n", b"\r", b"\r\n", b"\n\n", b"\r\r", b"\x00",
    b"\xef\xbb\xbf", "\u00b2".encode(), b"\xc3", b"\xa9", b"\xff", "\U0001f600".encode(), "\u00e9".encode(),
]
tokens_body = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)

values = st.one_of(
    st.text(
        alphabet=st.sampled_from(["a", " ", ":", "\0", "\ufeff", "\u00e9", "\U0001f600", "1", "9", "\u0663"]),
        max_size=8,
    ),
    st.sampled_from(["5", "10", "x"]),
)
field_line = st.builds(
    lambda name, sep, value: name + sep + value,
    st.sampled_from(["data", "data", "data", "event", "id", "id", "retry", "retry", "x", "", "data "]),
    st.sampled_from([":", ": ", ": ", ":  ", ""]),
    values,
)
eol = st.sampled_from(["\n", "\r", "\r\n"])
# An event block: field lines (and comments), then a blank line.
block = st.builds(
    lambda lines, end: "".join(line + e for line, e in lines) + end,
    st.lists(st.tuples(st.one_of(field_line, st.just(": keep-alive")), eol), max_size=5),
    eol,
)
structured_body = st.builds(
    lambda bom, blocks, tail: (bom + "".join(blocks) + tail).encode(),
    st.sampled_from(["", "\ufeff"]),
    st.lists(block, max_size=8),
    st.sampled_from(["", "data: tail", "data: tail\r"]),
)
bodies = st.one_of(tokens_body, structured_body)


@settings(deadline=None)
@given(body=bodies, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_any_chunking_matches_whole_body_and_reference(body: bytes, cuts: list[int]) -> None:
    whole = run([body])
    assert whole == reference(body)
    assert run(split(body, cuts)) == whole


@settings(deadline=None)
@given(body=bodies)
def test_bytewise_feeding_matches_reference(body: bytes) -> None:
    assert run([body[i : i + 1] for i in range(len(body))]) == reference(body)
