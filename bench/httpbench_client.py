"""A minimal HTTP/1.1 client over asyncio streams, for the HTTP benchmark.

A general client (httpx) spends more time per request than the server it measures; this one
writes prepared request bytes on a keep-alive connection and reads the status line, the headers
and a ``Content-Length`` body, nothing more. ``EventStream`` reads a server-sent event stream
(which uvicorn sends with chunked transfer encoding) and hands back whole events together with
the wall-clock time their bytes arrived.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

HOST = "127.0.0.1"
_READ_SIZE = 64 * 1024

T = TypeVar("T")


class ProtocolError(Exception):
    """The server answered something this client does not parse."""


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to the hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on uvloop when it is installed (as uvicorn does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def build_request(
    method: str,
    path: str,
    *,
    port: int,
    token: str | None = None,
    body: bytes = b"",
    headers: tuple[str, ...] = (),
) -> bytes:
    """The bytes of one request; a body is sent as JSON with its ``Content-Length``."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    for header in headers:
        head += f"{header}\r\n"
    if body or method in ("POST", "PATCH", "PUT"):
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _content_length(head: bytes) -> int:
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        if b"\r\ntransfer-encoding:" in lowered:
            raise ProtocolError("a chunked response where a Content-Length was expected")
        return 0
    end = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + 17 : end])


class HttpConnection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(HOST, port, limit=_READ_SIZE)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send prepared request bytes; return the response's status and body."""
        # No drain(): the request is small and the response is awaited before the next one,
        # so the write buffer never grows.
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise ProtocolError(f"not an HTTP/1.1 response: {head[:40]!r}")
        status = int(head[9:12])
        body = await self.reader.readexactly(_content_length(head))
        return status, body

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


class EventStream:
    """One ``text/event-stream`` response, decoded from its chunks into whole events."""

    def __init__(self, connection: HttpConnection) -> None:
        self.connection = connection
        self._chunked = bytearray()
        self._events = bytearray()
        self.is_ended = False

    @classmethod
    async def open(cls, port: int, path: str, token: str) -> EventStream:
        """Connect and send the GET; raise unless the answer is a 200 chunked stream."""
        connection = await HttpConnection.open(port)
        headers = ("Accept: text/event-stream",)
        connection.writer.write(build_request("GET", path, port=port, token=token, headers=headers))
        head = await connection.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            await connection.close()
            raise ProtocolError(f"the stream was refused: {head[:40]!r}")
        if b"transfer-encoding: chunked" not in head.lower():
            await connection.close()
            raise ProtocolError("the stream is not chunked")
        return cls(connection)

    async def read_events(self) -> tuple[int, list[bytes]]:
        """Wait for bytes; return their arrival (``time.time_ns()``) and the events completed."""
        data = await self.connection.reader.read(_READ_SIZE)
        arrived = time.time_ns()
        if not data:
            self.is_ended = True
            return arrived, []
        self._chunked += data
        self._decode_chunks()
        events = self._events.split(b"\n\n")
        self._events = bytearray(events.pop())
        return arrived, [bytes(event) for event in events]

    async def initial_version(self, timeout: float) -> int:
        """Wait for the first snapshot (the current one); the newest version read with it."""
        async with asyncio.timeout(timeout):
            while not self.is_ended:
                _, events = await self.read_events()
                versions = [v for v in map(event_version, events) if v is not None]
                if versions:
                    return max(versions)
        raise ProtocolError("the stream ended before its first snapshot")

    def _decode_chunks(self) -> None:
        raw = self._chunked
        while True:
            line_end = raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(raw[:line_end].split(b";", 1)[0], 16)
            chunk_end = line_end + 2 + size
            if len(raw) < chunk_end + 2:
                return
            if size == 0:
                self.is_ended = True
            self._events += raw[line_end + 2 : chunk_end]
            del raw[: chunk_end + 2]

    async def close(self) -> None:
        await self.connection.close()


def event_version(event: bytes) -> int | None:
    """The ``id:`` of a ``snapshot`` event (the session's version); ``None`` for other events."""
    if b"event: snapshot" not in event or not event.startswith(b"id: "):
        return None
    return int(event[4 : event.index(b"\n")])


def event_int_field(event: bytes, name: bytes) -> int | None:
    """An integer JSON field of the event's data, found without decoding the whole document."""
    key = b'"' + name + b'":'
    at = event.find(key)
    if at < 0:
        return None
    start = at + len(key)
    end = start
    while end < len(event) and event[end] in b"-0123456789":
        end += 1
    return int(event[start:end]) if end > start else None
