"""Reading ``text/event-stream``, incrementally, as the HTML standard describes it.

Bytes go in as they arrive (any chunking); out come complete events and comments (the server's
heartbeats)::

    >>> decoder = EventStreamDecoder()
    >>> decoder.feed(b"id: 3\\nevent: snapshot\\ndata: {}\\n\\n: keep-alive\\n\\n")
    [ServerSentEvent(event='snapshot', data='{}', id='3'), Comment(text='keep-alive')]

Only ``\\r\\n``, ``\\r`` and ``\\n`` end a line (not the other Unicode line breaks, which may sit
inside JSON data), the stream is UTF-8 whatever it declares, and a leading BOM is skipped.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["Comment", "EventStreamDecoder", "ServerSentEvent"]

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; ``id`` is the last event id seen so far on the stream."""

    event: str = "message"
    data: str = ""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment line (``: text``): a heartbeat that keeps an idle stream alive."""

    text: str


class EventStreamDecoder:
    """Turns the bytes of one event stream into events and comments, chunk by chunk."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._is_start = True
        self._event_type = ""
        self._data: list[str] = []
        self._last_event_id: str | None = None
        self.retry: int | None = None
        """The reconnection time (ms) the server asked for with ``retry:``, if it did."""

    @property
    def last_event_id(self) -> str | None:
        return self._last_event_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent | Comment]:
        """Everything ``chunk`` completes, in order."""
        return self._process(self._text.decode(chunk))

    def close(self) -> list[ServerSentEvent | Comment]:
        """What the end of the stream completes (a pending ``\\r``); an unfinished event is
        dropped, as the standard says."""
        items = self._process(self._text.decode(b"", final=True))
        if self._buffer.endswith("\r"):
            item = self._line(self._buffer[:-1])
            if item is not None:
                items.append(item)
        self._buffer = ""
        return items

    def _process(self, text: str) -> list[ServerSentEvent | Comment]:
        if self._is_start and text:
            self._is_start = False
            text = text.removeprefix("\ufeff")
        self._buffer += text
        items: list[ServerSentEvent | Comment] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == "\r" and match.end() == len(self._buffer):
                break  # maybe the first half of a "\r\n" split across chunks
            item = self._line(self._buffer[start : match.start()])
            if item is not None:
                items.append(item)
            start = match.end()
        self._buffer = self._buffer[start:]
        return items

    def _line(self, line: str) -> ServerSentEvent | Comment | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return Comment(line[1:].removeprefix(" "))
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "event":
            self._event_type = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self.retry = int(value)
        return None  # any other field is ignored

    def _dispatch(self) -> ServerSentEvent | None:
        event_type, data = self._event_type, self._data
        self._event_type, self._data = "", []
        if not data:
            return None  # no data: nothing to dispatch
        return ServerSentEvent(event_type or "message", "\n".join(data), self._last_event_id)
