"""What a subscriber gets after a reconnect, on either server.

Subscribers open a stream on a session each and read what arrives at once (ours: the current
snapshot; PocketBase: nothing, only ``PB_CONNECT``), then all disconnect. While they are away
each session gets ``changes`` updates, the last one setting ``currentStepIndex`` to a marker
value. Then they reconnect as each server's own client does (ours with ``Last-Event-ID``, the
version last seen; PocketBase with a new realtime client subscribing to the same topic) and
read for ``window`` seconds: how many events arrive, and how many subscribers end up holding
the last change.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from httpbench_client import (
    EventStream,
    HttpConnection,
    ProtocolError,
    build_request,
    run_async,
)
from httpbench_load import CONNECT_TIMEOUT, open_streams
from peers_live import open_pocketbase_streams
from peers_servers import Peer

_MARKER_STEP = 100


@dataclass(frozen=True)
class ReconnectResult:
    subscribers: int
    changes_while_away: int
    delivered: int
    up_to_date: int
    window_seconds: float


async def _open_resuming(port: int, path: str, token: str, last_event_id: int) -> EventStream:
    """Our stream, resumed: ``Last-Event-ID`` names the version the subscriber holds."""
    connection = await HttpConnection.open(port)
    headers = ("Accept: text/event-stream", f"Last-Event-ID: {last_event_id}")
    connection.writer.write(build_request("GET", path, port=port, token=token, headers=headers))
    head = await connection.reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        await connection.close()
        raise ProtocolError(f"the stream was refused: {head[:40]!r}")
    return EventStream(connection)


async def _write_changes(peer: Peer, paths: list[str], changes: int) -> int:
    """``changes`` updates to each path, in order per path; the count acknowledged."""
    acknowledged = 0

    async def one_path(connection: HttpConnection, path: str) -> None:
        nonlocal acknowledged
        for step in range(1, changes + 1):
            body = b'{"currentStepIndex":%d,"inputs":{"sentAt":%d}}' % (
                _MARKER_STEP + step,
                time.time_ns(),
            )
            status, _ = await connection.send(
                build_request("PATCH", path, port=peer.port, token=peer.token, body=body)
            )
            acknowledged += status == 200

    async def lane(part: list[str]) -> None:
        connection = await HttpConnection.open(peer.port)
        try:
            for path in part:
                await one_path(connection, path)
        finally:
            await connection.close()

    await asyncio.gather(*(lane(paths[index::8]) for index in range(8)))
    return acknowledged


async def _read_for(stream: EventStream, seconds: float, last_step: bytes) -> tuple[int, bool]:
    """Events (changes, not the connect event) read within ``seconds``; the last one seen."""
    events = 0
    holds_last = False
    try:
        async with asyncio.timeout(seconds):
            while not stream.is_ended:
                _, arrived = await stream.read_events()
                for event in arrived:
                    if b"event: snapshot" in event or b'"action":' in event:
                        events += 1
                        holds_last = last_step in event
    except TimeoutError:
        pass
    return events, holds_last


async def _reconnect(peer: Peer, subscribers: int, changes: int, window: float) -> ReconnectResult:
    paths = peer.record_paths[:subscribers]
    targets = peer.subscribe_targets[:subscribers]
    async with asyncio.timeout(CONNECT_TIMEOUT * 2):
        if peer.kind == "pocketbase":
            first, _ = await open_pocketbase_streams(peer.port, peer.token, targets)
            versions = [0] * len(first)
        else:
            pairs, _ = await open_streams(peer.port, peer.token, targets)
            first = [stream for stream, _ in pairs]
            versions = [version for _, version in pairs]
    await asyncio.gather(*(stream.close() for stream in first))
    await asyncio.sleep(0.2)  # both servers notice the disconnects
    async with asyncio.timeout(120):
        written = await _write_changes(peer, paths, changes)
    async with asyncio.timeout(CONNECT_TIMEOUT * 2):
        if peer.kind == "pocketbase":
            again, _ = await open_pocketbase_streams(peer.port, peer.token, targets)
        else:
            again = list(
                await asyncio.gather(
                    *(
                        _open_resuming(peer.port, target, peer.token, version)
                        for target, version in zip(targets, versions, strict=True)
                    )
                )
            )
    last_step = b'"currentStepIndex":%d' % (_MARKER_STEP + changes)
    try:
        outcomes = await asyncio.gather(*(_read_for(s, window, last_step) for s in again))
    finally:
        await asyncio.gather(*(stream.close() for stream in again), return_exceptions=True)
    return ReconnectResult(
        subscribers=len(again),
        changes_while_away=written,
        delivered=sum(events for events, _ in outcomes),
        up_to_date=sum(holds for _, holds in outcomes),
        window_seconds=window,
    )


def measure_reconnect(
    peer: Peer, *, subscribers: int = 100, changes: int = 5, window: float = 2.0
) -> ReconnectResult:
    """Disconnect ``subscribers``, make ``changes`` updates to each session, reconnect."""
    return run_async(lambda: _reconnect(peer, subscribers, changes, window))
