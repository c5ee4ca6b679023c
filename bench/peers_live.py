"""Live workloads on either server: SSE subscribers, write-to-subscriber latency, idle memory,
and what a subscriber gets after a reconnect.

Our streams are ``GET .../sessions/{id}/events`` (``bench/httpbench_client.py`` reads them).
PocketBase's realtime is one SSE stream per client at ``/api/realtime``: the client reads the
``PB_CONNECT`` event's ``clientId``, then ``POST /api/realtime`` with ``{clientId,
subscriptions: ["sessions/RECORD_ID"]}`` (as its JS SDK does); each change then arrives as an
event named after the topic, with ``{"action", "record"}``. The writer is the same process for
both (``httpbench_load.run_writer``: paced PATCHes carrying ``inputs.sentAt``), and the
latency is the arrival time of the event's bytes minus that ``sentAt``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from httpbench_client import (
    EventStream,
    HttpConnection,
    ProtocolError,
    build_request,
    event_int_field,
    event_version,
    raise_open_files_limit,
    run_async,
)
from httpbench_load import (
    CONNECT_CONCURRENCY,
    CONNECT_TIMEOUT,
    FanoutResult,
    SubscriberResult,
    WriterJob,
    measure_fanout,
    open_streams,
)
from peers_servers import Peer

SUBSCRIBER_PROCESSES = 2


@dataclass(frozen=True)
class PeerSubscriberJob:
    """Subscribers of one process: ``targets`` are event paths (ours) or topics (PocketBase)."""

    kind: str
    port: int
    token: str
    targets: list[str]
    max_seconds: float


# -- PocketBase's realtime ----------------------------------------------------------------


async def _pocketbase_client_id(stream: EventStream, timeout: float) -> str:
    async with asyncio.timeout(timeout):
        while not stream.is_ended:
            _, events = await stream.read_events()
            for event in events:
                if b"event:PB_CONNECT" in event:
                    data = event[event.index(b"data:") + 5 :]
                    client_id: str = json.loads(data)["clientId"]
                    return client_id
    raise ProtocolError("the realtime stream ended before PB_CONNECT")


async def open_pocketbase_streams(
    port: int, token: str, topics: Sequence[str]
) -> tuple[list[EventStream], int]:
    """One realtime client per topic, subscribed to it; and how many failed."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(topic: str) -> EventStream:
        async with gate, asyncio.timeout(CONNECT_TIMEOUT):
            stream = await EventStream.open(port, "/api/realtime", token)
            try:
                client_id = await _pocketbase_client_id(stream, CONNECT_TIMEOUT)
                body = json.dumps({"clientId": client_id, "subscriptions": [topic]}).encode()
                control = await HttpConnection.open(port)
                try:
                    status, answer = await control.send(
                        build_request("POST", "/api/realtime", port=port, token=token, body=body)
                    )
                finally:
                    await control.close()
                if status != 204:
                    raise ProtocolError(f"the subscription was refused: {status} {answer!r}")
                return stream
            except BaseException:
                await stream.close()
                raise

    outcomes = await asyncio.gather(*(open_one(t) for t in topics), return_exceptions=True)
    opened = [outcome for outcome in outcomes if isinstance(outcome, EventStream)]
    return opened, len(outcomes) - len(opened)


async def _follow_pocketbase(stream: EventStream, result: SubscriberResult) -> None:
    while not stream.is_ended:
        arrived, events = await stream.read_events()
        for event in events:
            if b'"action":' not in event:
                continue
            result.events += 1
            sent_at = event_int_field(event, b"sentAt")
            if sent_at is not None:
                result.latencies_ms.append((arrived - sent_at) / 1e6)


async def _follow_ours(stream: EventStream, version: int, result: SubscriberResult) -> None:
    while not stream.is_ended:
        arrived, events = await stream.read_events()
        for event in events:
            event_at = event_version(event)
            if event_at is None or event_at <= version:
                continue
            version = event_at
            result.events += 1
            sent_at = event_int_field(event, b"sentAt")
            if sent_at is not None:
                result.latencies_ms.append((arrived - sent_at) / 1e6)


async def _subscribe(job: PeerSubscriberJob, ready: Queue[Any], stop: Event) -> SubscriberResult:
    deadline = time.monotonic() + job.max_seconds
    followers: list[asyncio.Task[None]] = []
    streams: list[EventStream] = []
    if job.kind == "pocketbase":
        streams, failed = await open_pocketbase_streams(job.port, job.token, job.targets)
        result = SubscriberResult(connected=len(streams), failed=failed)
        followers = [asyncio.create_task(_follow_pocketbase(s, result)) for s in streams]
    else:
        opened, failed = await open_streams(job.port, job.token, job.targets)
        result = SubscriberResult(connected=len(opened), failed=failed)
        streams = [stream for stream, _ in opened]
        followers = [asyncio.create_task(_follow_ours(s, v, result)) for s, v in opened]
    ready.put(len(streams))
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        await asyncio.gather(*(stream.close() for stream in streams), return_exceptions=True)
    return result


def run_peer_subscribers(
    job: PeerSubscriberJob, ready: Queue[Any], stop: Event, results: Queue[Any]
) -> None:
    """Process entry: open the streams, report ready, record latencies until ``stop``."""
    raise_open_files_limit()
    results.put(("subscribers", run_async(lambda: _subscribe(job, ready, stop))))


def measure_latency(peer: Peer, subscribers: int, rate: float, seconds: float) -> FanoutResult:
    """``subscribers`` streams, one per session, while ``rate`` updates/s go to those sessions."""
    paths = peer.record_paths[:subscribers]
    targets = peer.subscribe_targets[:subscribers]
    writer = WriterJob(
        peer.port, peer.token, paths, rate, seconds, connections=64, give_up_after=seconds * 2
    )
    count = min(SUBSCRIBER_PROCESSES, len(targets))
    jobs = [
        PeerSubscriberJob(peer.kind, peer.port, peer.token, targets[part::count], seconds + 90)
        for part in range(count)
    ]
    return measure_fanout(
        writer, jobs, peer.process.cpu_seconds, subscriber_entry=run_peer_subscribers
    )


# -- memory per idle stream ---------------------------------------------------------------


@dataclass(frozen=True)
class IdleMemory:
    before_kb: int
    during_kb: int
    opened: int
    failed: int

    @property
    def per_stream_kb(self) -> float:
        return (self.during_kb - self.before_kb) / max(1, self.opened)


async def _idle_memory(peer: Peer, streams: int) -> IdleMemory:
    before = await asyncio.to_thread(peer.process.settled_rss_kb)
    targets = peer.subscribe_targets[:streams]
    async with asyncio.timeout(180):
        if peer.kind == "pocketbase":
            opened, failed = await open_pocketbase_streams(peer.port, peer.token, targets)
        else:
            pairs, failed = await open_streams(peer.port, peer.token, targets)
            opened = [stream for stream, _ in pairs]
    try:
        during = await asyncio.to_thread(peer.process.settled_rss_kb)
    finally:
        await asyncio.gather(*(stream.close() for stream in opened), return_exceptions=True)
    return IdleMemory(before, during, len(opened), failed)


def measure_idle_memory(peer: Peer, streams: int) -> IdleMemory:
    """The server's VmRSS with ``streams`` idle subscribed streams open, less before."""
    return run_async(lambda: _idle_memory(peer, streams))


async def _touch_each(peer: Peer, connections: int = 8) -> None:
    """GET every seeded session once (both servers' caches fill, as in use)."""

    async def lane(paths: Sequence[str]) -> None:
        connection = await HttpConnection.open(peer.port)
        try:
            for path in paths:
                await connection.send(build_request("GET", path, port=peer.port, token=peer.token))
        finally:
            await connection.close()

    async with asyncio.timeout(120):
        await asyncio.gather(
            *(lane(peer.record_paths[part::connections]) for part in range(connections))
        )


async def _open_and_close(peer: Peer, streams: int) -> None:
    targets = peer.subscribe_targets[:streams]
    if peer.kind == "pocketbase":
        opened, _ = await open_pocketbase_streams(peer.port, peer.token, targets)
    else:
        pairs, _ = await open_streams(peer.port, peer.token, targets)
        opened = [stream for stream, _ in pairs]
    await asyncio.gather(*(stream.close() for stream in opened), return_exceptions=True)


def warm_up(peer: Peer) -> None:
    """Read every session once, then open and close a few streams."""
    run_async(lambda: _touch_each(peer))
    run_async(lambda: _open_and_close(peer, 50))
