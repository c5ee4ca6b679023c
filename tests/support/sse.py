"""Reading a server-sent event stream in tests, event by event."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Event:
    event: str = "message"
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)


def events(response: httpx.Response) -> Iterator[Event]:
    """Yield each event, and each comment as an event named ``comment``."""
    current = Event()
    has_fields = False
    for line in response.iter_lines():
        if line == "":
            if has_fields:
                yield current
            current, has_fields = Event(), False
        elif line.startswith(":"):
            yield Event(event="comment", data=line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            has_fields = True
            if name == "event":
                current.event = value
            elif name == "id":
                current.id = value
            elif name == "data":
                current.data = f"{current.data}\n{value}" if current.data else value
