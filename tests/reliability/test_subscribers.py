"""Subscribers: a stalled reader never holds writers back, and reconnecting ones miss nothing.

1. Subscribers that stop reading (an SSE stream and a WebSocket, each on a socket with a
   4 KiB receive buffer) while a writer replaces a 16 KiB input as fast as the server
   answers, for ``STALL_SECONDS``. The writes all complete while both stay stalled (if a full
   socket blocked a writer, they could not: the test would time out), a subscriber that reads
   normally keeps up, and once the stalled ones read again each gets the latest snapshot,
   with versions only ever increasing. That each stalled subscriber received fewer snapshots
   than there were versions shows its buffers did fill (and that the server coalesced,
   rather than queued, what it could not send).
2. ``RECONNECTING`` SSE subscribers on one session drop their connections at the same moment,
   writes go on while they are away, and they all reconnect at once with ``Last-Event-ID``:
   none is sent a version it had already seen, and every one ends on the stored state.

Streams are read with small clients over asyncio sockets (chunked transfer decoding and SSE
framing; WebSocket frames) so that a thousand of them cost the test process little.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .conftest import Launch, Tenant, seed, server_settings

STALL_SECONDS = 5.0
STALL_MAX_WRITES = 5_000
BLOB = "x" * 16_384
RECONNECTING = 1_000
WRITES_BEFORE, WRITES_AWAY, WRITES_AFTER = 20, 20, 20


async def small_socket(port: int, receive_buffer: int | None = 4096) -> socket.socket:
    """A connected socket; with ``receive_buffer``, the kernel buffers at most about that much
    for it (set before connecting, so the TCP window starts and stays small)."""
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


@dataclass
class EventStream:
    """One SSE response read off a raw socket: whole events as (version, session JSON)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    versions: list[int] = field(default_factory=list)
    latest: bytes = b""
    _chunked: bytearray = field(default_factory=bytearray)
    _text: bytearray = field(default_factory=bytearray)

    @classmethod
    async def open(
        cls,
        port: int,
        path: str,
        token: str,
        *,
        last_event_id: int | None = None,
        receive_buffer: int | None = None,
    ) -> EventStream:
        sock = await small_socket(port, receive_buffer)
        reader, writer = await asyncio.open_connection(sock=sock)
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        if last_event_id is not None:
            request += f"Last-Event-ID: {last_event_id}\r\n"
        writer.write(request.encode() + b"\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"transfer-encoding: chunked" in head.lower(), head
        return cls(reader, writer)

    @property
    def version(self) -> int:
        return self.versions[-1] if self.versions else 0

    @property
    def session(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.latest)
        return result

    async def read_some(self) -> bool:
        """Read what has arrived and note each whole snapshot; ``False`` once it ended."""
        data = await self.reader.read(65_536)
        if not data:
            return False
        self._chunked += data
        self._decode_chunks()
        *events, rest = self._text.split(b"\n\n")
        self._text = bytearray(rest)
        for event in events:
            if event.startswith(b"id: ") and b"\nevent: snapshot\n" in event:
                self.versions.append(int(event[4 : event.index(b"\n")]))
                self.latest = bytes(event[event.index(b"\ndata: ") + 7 :])
        return True

    async def read_until(self, version: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self.version < version:
                assert await self.read_some(), "the stream ended"

    def _decode_chunks(self) -> None:
        raw = self._chunked
        while (line_end := raw.find(b"\r\n")) >= 0:
            size = int(raw[:line_end].split(b";", 1)[0], 16)
            chunk_end = line_end + 2 + size
            if len(raw) < chunk_end + 2:
                return
            self._text += raw[line_end + 2 : chunk_end]
            del raw[: chunk_end + 2]

    def drop(self) -> None:
        """Close abruptly, as a network that went away would."""
        self.writer.transport.abort()


@dataclass
class RawWebSocket:
    """``/v1/ws`` on a small socket, framed by hand: when nothing reads it, asyncio stops
    reading the socket once 128 KiB wait (twice the stream limit), and the server's sends back
    up (a client library would keep reading into memory of its own)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, port: int, token: str) -> RawWebSocket:
        reader, writer = await asyncio.open_connection(sock=await small_socket(port))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        assert len(payload) < 65_536
        mask = os.urandom(4)
        length = (
            bytes([0x80 | len(payload)])
            if len(payload) < 126
            else b"\xfe" + struct.pack(">H", len(payload))
        )
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.writer.write(b"\x81" + length + mask + masked)

    async def receive(self) -> dict[str, Any]:
        """The next text message (the server sends each in one unmasked frame)."""
        first, second = await self.reader.readexactly(2)
        assert first == 0x81, first
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", await self.reader.readexactly(8))
        message: dict[str, Any] = json.loads(await self.reader.readexactly(length))
        return message

    def drop(self) -> None:
        self.writer.transport.abort()


async def create_session(http: httpx.AsyncClient, tenant: Tenant) -> str:
    response = await http.post(
        f"/v1/projects/{tenant.project_id}/sessions", json=tenant.session_body()
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


async def stall(port: int, base_url: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=tenant.headers, timeout=10) as http:
        session_id = await create_session(http, tenant)
        path = tenant.session_path(session_id)
        stalled = await EventStream.open(port, path + "/events", tenant.token, receive_buffer=4096)
        await stalled.read_until(1, timeout=10)
        reading = await EventStream.open(port, path + "/events", tenant.token)
        await reading.read_until(1, timeout=10)
        ws = await RawWebSocket.open(port, tenant.token)
        subscribe = {"type": "subscribe", "id": "s", "projectId": tenant.project_id}
        ws.send({**subscribe, "sessionId": session_id})
        assert (await ws.receive())["session"]["version"] == 1

        async def follow() -> None:
            while await reading.read_some():
                pass

        follower = asyncio.create_task(follow())
        writes = 0
        deadline = time.monotonic() + STALL_SECONDS
        # A bounded phase: were a writer held back by the stalled sockets, it would not end.
        async with asyncio.timeout(STALL_SECONDS + 30):
            while time.monotonic() < deadline and writes < STALL_MAX_WRITES:
                body = {"currentStepIndex": writes, "inputs": {"blob": BLOB, "n": writes}}
                response = await http.patch(path, json=body)
                assert response.status_code == 200, response.text
                writes += 1
        final = (await http.get(path)).json()
        assert final["version"] == writes + 1
        await reading.read_until(final["version"], timeout=10)
        follower.cancel()

        await stalled.read_until(final["version"], timeout=15)  # reading again
        assert stalled.session == final
        assert stalled.versions == sorted(set(stalled.versions))
        # It did stall: its buffers filled and the server coalesced what it could not send.
        assert len(stalled.versions) < final["version"], (len(stalled.versions), writes)

        async with asyncio.timeout(15):  # reading again
            seen = []
            while not seen or seen[-1]["version"] < final["version"]:
                message = await ws.receive()
                assert message["type"] == "snapshot", message
                seen.append(message["session"])
        assert seen[-1] == final
        assert [s["version"] for s in seen] == sorted({s["version"] for s in seen})
        assert len(seen) + 1 < final["version"], (len(seen), writes)  # it did stall
        print(
            f"\n{writes} writes during a {STALL_SECONDS:.0f} s stall; snapshots received by the "
            f"stalled SSE stream {len(stalled.versions)}, by the stalled WebSocket {len(seen) + 1}"
        )
        ws.drop()
        for stream in (stalled, reading):
            stream.drop()


def test_a_stalled_subscriber_does_not_hold_writers_and_gets_the_latest(
    tmp_path: Path, launch: Launch
) -> None:
    settings = server_settings(database_path=tmp_path / "sessions.db")
    tenant = seed(settings)
    server = launch(settings)
    asyncio.run(stall(settings.port, server.base_url, tenant))


async def reconnect_all(port: int, base_url: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=tenant.headers, timeout=10) as http:
        session_id = await create_session(http, tenant)
        path = tenant.session_path(session_id)
        events = path + "/events"

        async def write(count: int) -> None:
            for _ in range(count):
                body = {"currentStepIndex": 1, "inputs": {f"k{time.monotonic_ns()}": 1}}
                response = await http.patch(path, json=body)
                assert response.status_code == 200, response.text

        async def open_all(last_seen: list[int] | None) -> list[EventStream]:
            streams: list[EventStream] = []
            for start in range(0, RECONNECTING, 100):  # at once, in waves the backlog accepts
                batch = range(start, min(start + 100, RECONNECTING))
                streams += await asyncio.gather(
                    *(
                        EventStream.open(
                            port,
                            events,
                            tenant.token,
                            last_event_id=None if last_seen is None else last_seen[n],
                        )
                        for n in batch
                    )
                )
            return streams

        async def read_all(streams: list[EventStream], version: int) -> None:
            await asyncio.gather(*(stream.read_until(version, timeout=30) for stream in streams))

        streams = await open_all(None)
        await write(WRITES_BEFORE)
        await read_all(streams, 1 + WRITES_BEFORE)
        last_seen = [stream.version for stream in streams]
        for stream in streams:
            stream.drop()
        await write(WRITES_AWAY)

        started = time.monotonic()
        reconnect = asyncio.create_task(open_all(last_seen))
        await write(WRITES_AFTER)  # while they reconnect
        streams = await reconnect
        final = (await http.get(path)).json()
        assert final["version"] == 1 + WRITES_BEFORE + WRITES_AWAY + WRITES_AFTER
        await read_all(streams, final["version"])
        elapsed = time.monotonic() - started
        print(f"\n{RECONNECTING} streams reconnected and caught up in {elapsed:.1f} s")
        for seen_before, stream in zip(last_seen, streams, strict=True):
            assert stream.versions[0] > seen_before  # Last-Event-ID: nothing seen is resent
            assert stream.versions == sorted(set(stream.versions))
            assert stream.session == final
            stream.drop()


def test_a_thousand_subscribers_reconnecting_at_once_end_on_the_latest_state(
    tmp_path: Path, launch: Launch
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * RECONNECTING:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * RECONNECTING), hard))
    settings = server_settings(database_path=tmp_path / "sessions.db")
    tenant = seed(settings)
    server = launch(settings)
    asyncio.run(reconnect_all(settings.port, server.base_url, tenant))


BIG_SESSION_BYTES = 600_000
BIG_SESSION_WRITES = 200
RSS_GROWTH_LIMIT_KB = 64 * 1024  # the cache holds at most 32 MiB


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc status")


def test_encoded_versions_kept_for_fan_out_stay_bounded_in_bytes(
    tmp_path: Path, launch: Launch
) -> None:
    """Each version's JSON is kept for a while so that a change reaching many subscribers is
    encoded once. 200 versions of a 600 KB session are 120 MB of JSON: the server must not
    keep them all (it kept 4,096 versions whatever their size, up to gigabytes)."""
    settings = server_settings(database_path=tmp_path / "sessions.db")
    tenant = seed(settings)
    server = launch(settings)
    with httpx.Client(base_url=server.base_url, headers=tenant.headers, timeout=30) as http:
        created = http.post(
            f"/v1/projects/{tenant.project_id}/sessions", json=tenant.session_body()
        )
        path = tenant.session_path(created.json()["sessionId"])
        big = {"inputs": {"blob": "x" * BIG_SESSION_BYTES}}
        assert http.patch(path, json=big).status_code == 200
        before = resident_kb(server.process.pid)
        for index in range(BIG_SESSION_WRITES):
            assert http.patch(path, json={"currentStepIndex": index}).status_code == 200
        grown = resident_kb(server.process.pid) - before
    print(f"\nserver memory grew {grown / 1024:.0f} MiB over {BIG_SESSION_WRITES} versions")
    assert grown < RSS_GROWTH_LIMIT_KB
