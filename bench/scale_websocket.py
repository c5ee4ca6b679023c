"""WebSocket subscribers for the scale benchmark: many subscriptions on each connection.

Each connection to ``/v1/ws`` authenticates with a first ``auth`` message and subscribes
to every session of its group (``{"type": "subscribe", "id", "projectId", "sessionId"}``); a
subscription is open once its first snapshot has arrived. From then on every snapshot that
carries ``inputs.sentAt`` gives one latency: the time its frame arrived less that ``sentAt``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from httpbench_client import event_int_field, raise_open_files_limit, run_async
from httpbench_load import CONNECT_TIMEOUT, SubscriberResult


@dataclass(frozen=True)
class WebSocketJob:
    """``groups``: the session paths (``/v1/projects/P/sessions/S``) of each connection."""

    port: int
    token: str
    groups: list[list[str]]
    max_seconds: float


async def subscribe_all(connection: ClientConnection, paths: list[str]) -> int:
    """Subscribe to every path; return how many first snapshots arrived."""
    for path in paths:
        parts = path.strip("/").split("/")
        message = {
            "type": "subscribe",
            "id": parts[4],
            "projectId": parts[2],
            "sessionId": parts[4],
        }
        await connection.send(json.dumps(message))
    pending = {path.rsplit("/", 1)[1] for path in paths}
    async with asyncio.timeout(CONNECT_TIMEOUT * 2):
        while pending:
            frame = await connection.recv()
            data = frame.encode() if isinstance(frame, str) else frame
            if data.startswith(b'{"type":"snapshot"'):
                subscription = json.loads(data)["id"]
                pending.discard(subscription)
            elif data.startswith(b'{"type":"error"'):
                raise RuntimeError(f"a subscription was refused: {data[:300]!r}")
    return len(paths)


async def _follow(connection: ClientConnection, result: SubscriberResult) -> None:
    async for frame in connection:
        arrived = time.time_ns()
        data = frame.encode() if isinstance(frame, str) else frame
        if not data.startswith(b'{"type":"snapshot"'):
            continue
        sent_at = event_int_field(data, b"sentAt")
        if sent_at is not None:
            result.events += 1
            result.latencies_ms.append((arrived - sent_at) / 1e6)


async def _run(job: WebSocketJob, ready: Queue[Any], stop: Event) -> SubscriberResult:
    deadline = time.monotonic() + job.max_seconds
    url = f"ws://127.0.0.1:{job.port}/v1/ws"
    connections = [await connect(url, max_size=None, ping_interval=None) for _ in job.groups]
    result = SubscriberResult()
    followers: list[asyncio.Task[None]] = []
    try:
        for connection in connections:
            await connection.send(json.dumps({"type": "auth", "token": job.token}))
            answer = await asyncio.wait_for(connection.recv(), CONNECT_TIMEOUT)
            if "authenticated" not in str(answer):
                raise RuntimeError(f"the WebSocket was not authenticated: {answer!r}")
        counts = await asyncio.gather(
            *(subscribe_all(c, g) for c, g in zip(connections, job.groups, strict=True))
        )
        result.connected = sum(counts)
        followers = [asyncio.create_task(_follow(c, result)) for c in connections]
        ready.put(result.connected)
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    return result


def run_websocket_subscribers(
    job: WebSocketJob, ready: Queue[Any], stop: Event, results: Queue[Any]
) -> None:
    """Process entry: connect, subscribe, report ready, record latencies until ``stop``."""
    raise_open_files_limit()
    results.put(("websocket", run_async(lambda: _run(job, ready, stop))))
