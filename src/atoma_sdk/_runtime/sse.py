"""Incremental, linear-time ``text/event-stream`` decoder (the WHATWG HTML event-stream algorithm).

Feed raw body bytes as they arrive with :meth:`SSEDecoder.feed`; call :meth:`SSEDecoder.finish` at the
end of the body. Work per chunk is proportional to the chunk: an unterminated line is kept as a list of
pieces and joined once, when its line end arrives; a chunk without any line end is only appended, raw, and
decoded with the chunk that ends its line (a fixed cost per ``feed()`` of a few operations).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ResponseValidationError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

#: Default bound on one event (its field lines plus any unterminated line), in decoded characters.
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. ``id`` is the stream's last event id (it persists across events);
    ``retry`` is the reconnection time given in this event's block, if any."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


# Frozen dataclasses assign through object.__setattr__ in __init__; the decoder fills the slots
# directly instead, which halves the cost of making an event.
_new_object = object.__new__
_slots = ServerSentEvent.__dict__
_set_data: Callable[[ServerSentEvent, str], None] = _slots["data"].__set__
_set_event: Callable[[ServerSentEvent, str], None] = _slots["event"].__set__
_set_id: Callable[[ServerSentEvent, str | None], None] = _slots["id"].__set__
_set_retry: Callable[[ServerSentEvent, int | None], None] = _slots["retry"].__set__
_utf8_decode = codecs.utf_8_decode


class SSEDecoder:
    """Turns event-stream bytes into :class:`ServerSentEvent` objects.

    UTF-8 is decoded incrementally (invalid bytes become U+FFFD), one leading BOM is dropped, and CR,
    LF and CRLF all end a line, also when a CRLF is split across chunks. ``max_event_bytes`` bounds the
    size of one event (counted in decoded characters); beyond it :class:`ResponseValidationError` is
    raised and the decoder must not be used again.
    """

    __slots__ = (
        "_cr",
        "_data",
        "_event",
        "_event_retry",
        "_held",
        "_partial",
        "_partial_len",
        "_raw",
        "_room",
        "_size",
        "_started",
        "last_event_id",
        "max_event_bytes",
        "retry",
    )

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        #: The last event id seen (persists across events, as in WHATWG); None until an ``id`` field.
        self.last_event_id: str | None = None
        #: The last valid ``retry`` value seen anywhere in the stream.
        self.retry: int | None = None
        self._held = b""  # the incomplete UTF-8 sequence that ended the last bytes decoded
        self._started = False  # the BOM check has been done
        self._cr = False  # the previous text ended with CR (a leading LF of the next one is skipped)
        self._partial: list[str] = []  # pieces of the current unterminated line
        self._partial_len = 0
        self._raw: list[bytes] = []  # raw chunks of the unterminated line, decoded with its line end
        self._room = -1  # how many more raw bytes may be kept back (-1: none)
        self._reset_event()

    def _reset_event(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._event_retry: int | None = None
        self._size = 0

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one chunk of the body; return the events it completes (possibly none)."""
        if b"\n" not in chunk and b"\r" not in chunk:
            room = self._room - len(chunk)
            if room >= 0:
                self._room = room
                self._raw.append(chunk)
                return []
        if self._raw:
            self._flush_raw()
        events = self._decode(chunk)
        # Bytes are at least characters: while the raw bytes kept fit the event bound, so do their
        # characters. No room before the BOM check or after a CR (the next chunk's LF must be looked at).
        if self._started and not self._cr:
            self._room = self.max_event_bytes - self._size - self._partial_len
        else:
            self._room = -1
        return events

    def _text(self, data: bytes) -> str:
        """UTF-8 text of ``data`` (invalid bytes become U+FFFD); a sequence cut at its end waits for the
        next bytes. ``codecs``' incremental decoder does the same around this call, in Python."""
        if self._held:
            data = self._held + data
        text, used = _utf8_decode(data, "replace", False)
        self._held = data[used:] if used < len(data) else b""
        return text

    def _decode(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._text(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._cr:
            if text[:1] == "\n":
                text = text[1:]
            self._cr = False
        if not text:
            return []
        if "\r" in text:
            self._cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        tail = lines.pop()
        if not lines:
            self._partial.append(tail)
            self._partial_len += len(tail)
            self._check_size(self._size + self._partial_len)
            return []
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial = []
            self._partial_len = 0
        events = self._process(lines)
        if tail:
            self._partial.append(tail)
            self._partial_len = len(tail)
            self._check_size(self._size + self._partial_len)
        return events

    def _flush_raw(self) -> None:
        """Decode the raw chunks kept back into the unterminated line's pieces (they hold no line end)."""
        raw = self._raw
        piece = self._text(raw[0] if len(raw) == 1 else b"".join(raw))
        self._raw = []
        if piece:
            self._partial.append(piece)
            self._partial_len += len(piece)

    def finish(self) -> list[ServerSentEvent]:
        """End of body: discard the unterminated tail (WHATWG) and reset for reuse; returns no events."""
        self._held = b""
        self._raw = []
        self._room = -1
        self._partial = []
        self._partial_len = 0
        self._cr = False
        self._started = False
        self._reset_event()
        return []

    def _check_size(self, size: int) -> None:
        if size > self.max_event_bytes:
            raise ResponseValidationError(
                f"server-sent event larger than max_event_bytes ({self.max_event_bytes})"
            )

    def _process(self, lines: list[str]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        emit = events.append
        data = self._data
        event_type = self._event
        retry = self._event_retry
        size = self._size
        limit = self.max_event_bytes
        for line in lines:
            if not line:  # blank line: dispatch
                if data:
                    event: ServerSentEvent = _new_object(ServerSentEvent)
                    _set_data(event, data[0] if len(data) == 1 else "\n".join(data))
                    _set_event(event, event_type or "message")
                    _set_id(event, self.last_event_id)
                    _set_retry(event, retry)
                    emit(event)
                    data = []
                event_type = ""
                retry = None
                size = 0
                continue
            if line[0] == ":":  # comment
                continue
            size += len(line)
            if size > limit:
                self._check_size(size)
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith(" ", 5) else line[5:])
                continue
            colon = line.find(":")
            if colon < 0:
                field, value = line, ""
            else:
                field = line[:colon]
                value = line[colon + 2 :] if line.startswith(" ", colon + 1) else line[colon + 1 :]
            if field == "data":
                data.append(value)
            elif field == "event":
                event_type = value
            elif field == "id":
                if "\0" not in value:
                    self.last_event_id = value
            elif field == "retry" and value.isascii() and value.isdigit():
                retry = self.retry = int(value)
        self._data = data
        self._event = event_type
        self._event_retry = retry
        self._size = size
        return events
