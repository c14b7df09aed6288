"""SSEDecoder: the WHATWG event-stream algorithm, fed in arbitrary chunks."""

from __future__ import annotations

import dataclasses

import pytest

from atoma_sdk._runtime.sse import ServerSentEvent, SSEDecoder
from atoma_sdk.errors import ResponseValidationError


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.finish()


def datas(*chunks: bytes) -> list[str]:
    return [event.data for event in decode(*chunks)]


def bytewise(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def test_event_is_frozen_with_slots_and_defaults() -> None:
    event = ServerSentEvent("x")
    assert (event.event, event.id, event.retry) == ("message", None, None)
    assert not hasattr(event, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]


def test_decoded_event_equals_constructed_event() -> None:
    [event] = decode(b"event: e\nid: 7\nretry: 10\ndata: x\n\n")
    assert event == ServerSentEvent("x", "e", "7", 10)
    assert hash(event) == hash(ServerSentEvent("x", "e", "7", 10))
    assert repr(event) == "ServerSentEvent(data='x', event='e', id='7', retry=10)"


def test_single_optional_space_stripped() -> None:
    assert datas(b"data:a\n\ndata: b\n\ndata:  c\n\n") == ["a", "b", " c"]


def test_multiline_data_joined_with_lf() -> None:
    assert datas(b"data: a\ndata:\ndata: c\n\n") == ["a\n\nc"]


def test_empty_data_line_dispatches_empty_string() -> None:
    assert datas(b"data\n\ndata:\n\n") == ["", ""]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_endings(eol: bytes) -> None:
    body = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert datas(body) == ["a\nb", "c"]
    assert datas(*bytewise(body)) == ["a\nb", "c"]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # "\r" ends the line; the "\n" starting the next chunk must not count as a blank line.
    assert datas(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


def test_cr_then_cr_is_a_blank_line() -> None:
    assert datas(b"data: a\r", b"\rdata: b\r\r") == ["a", "b"]


def test_mixed_line_endings() -> None:
    assert datas(b"data: a\r\n\rdata: b\n\r\n") == ["a", "b"]


def test_comments_ignored() -> None:
    body = b": keep-alive\n\n:\ndata: x\n: in the middle\ndata: y\n\n"
    assert datas(body) == ["x\ny"]


def test_keep_alive_only_stream_has_no_events() -> None:
    assert decode(b": keep-alive\n\n" * 10) == []


def test_bom_stripped_once() -> None:
    assert datas(b"\xef\xbb\xbfdata: x\n\n") == ["x"]
    assert datas(b"\xef", b"\xbb", b"\xbf", b"data: x\n\n") == ["x"]
    # A second BOM is part of the field name: an unknown field, so no event.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []
    # Not at the start: kept in the data.
    assert datas(b"data: \xef\xbb\xbfx\n\n") == ["\ufeffx"]


def test_split_utf8_sequences() -> None:
    body = "data: h\u00e9llo \U0001f600 \u4e16\n\n".encode()
    assert datas(*bytewise(body)) == ["h\u00e9llo \U0001f600 \u4e16"]


def test_invalid_utf8_replaced() -> None:
    assert datas(b"data: a\xffb\n\n") == ["a\ufffdb"]
    assert datas(b"data: a\xf0\x9f", b"\n\n") == ["a\ufffd"]


def test_id_persists_and_nul_ignored() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\nid\ndata: d\n\n")
    assert [e.id for e in events] == ["1", "1", "1", ""]


def test_retry_digits_only_and_per_event() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 100\ndata: a\n\ndata: b\n\nretry: 1x\ndata: c\n\nretry:\ndata: d\n\n")
    assert [e.retry for e in events] == [100, None, None, None]
    assert decoder.retry == 100
    # Non-ASCII digits are not digits here.
    assert decode(b"retry: \xc2\xb2\ndata: e\n\n")[0].retry is None


def test_event_type() -> None:
    events = decode(b"event: a\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n")
    assert [e.event for e in events] == ["a", "message", "message"]


def test_unknown_fields_and_dataless_events_skipped() -> None:
    assert decode(b"foo: bar\n\nevent: x\n\nid: 3\n\nretry: 5\n\n") == []
    # The skipped event's type does not leak into the next one.
    assert decode(b"event: x\n\ndata: y\n\n")[0].event == "message"


def test_field_without_colon() -> None:
    assert decode(b"data\nevent\n\n") == [ServerSentEvent("", "message")]


def test_field_names_are_case_sensitive_and_exact() -> None:
    assert decode(b"Data: x\n\ndata : y\n\n") == []


def test_unterminated_tail_discarded() -> None:
    assert datas(b"data: a\n\ndata: b\n") == ["a"]
    assert datas(b"data: a\n\ndata: b") == ["a"]


def test_finish_resets_for_a_new_body() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb\xbfdata: a\n") == []
    assert decoder.finish() == []
    assert [e.data for e in decoder.feed(b"\xef\xbb\xbfdata: b\n\n")] == ["b"]


def test_events_returned_by_the_chunk_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert [e.data for e in decoder.feed(b"\ndata: b\n\ndata: c")] == ["a", "b"]
    assert [e.data for e in decoder.feed(b"\n\n")] == ["c"]


def test_large_event_in_small_chunks() -> None:
    payload = b"x" * (256 * 1024)
    body = b"data: " + payload + b"\n\n"
    chunks = [body[i : i + 1024] for i in range(0, len(body), 1024)]
    assert datas(*chunks) == [payload.decode()]


def test_max_event_bytes_on_unterminated_line() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"x" * 90)
    with pytest.raises(ResponseValidationError, match="max_event_bytes"):
        decoder.feed(b"x" * 20)


def test_max_event_bytes_across_lines() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ResponseValidationError, match="max_event_bytes"):
        decoder.feed(b"data: 0123456789\n" * 10)


def test_max_event_bytes_is_per_event() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    events = decoder.feed(b"data: 0123456789\n\n" * 50 + b": " + b"-" * 90 + b"\n")
    assert len(events) == 50


@pytest.mark.parametrize("chunk", [1, 7, 64, 1024])
def test_max_event_bytes_counts_characters_when_lines_arrive_in_pieces(chunk: int) -> None:
    """Chunks without a line end are kept raw; the bound still counts decoded characters, not bytes."""
    fits = b"data: " + "\u00e9".encode() * 90 + b"\n\n"  # 96 characters, 186 bytes
    assert datas(*[fits[i : i + chunk] for i in range(0, len(fits), chunk)]) == ["\u00e9" * 90]
    decoder = SSEDecoder(max_event_bytes=100)
    assert [e.data for c in range(0, len(fits), chunk) for e in decoder.feed(fits[c : c + chunk])] == [
        "\u00e9" * 90
    ]
    too_long = b"data: " + "\u00e9".encode() * 95 + b"\n\n"  # 101 characters
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ResponseValidationError, match="max_event_bytes"):
        for c in range(0, len(too_long), chunk):
            decoder.feed(too_long[c : c + chunk])


def test_unterminated_line_over_the_bound_fails_before_its_line_end() -> None:
    decoder = SSEDecoder(max_event_bytes=4096)
    decoder.feed(b"data: ")
    with pytest.raises(ResponseValidationError, match="max_event_bytes"):
        for _ in range(5):
            decoder.feed(b"x" * 1024)
