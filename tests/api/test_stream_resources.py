"""What an open stream holds on the server: its request's task, and nothing that runs per
stream beside it. A server keeps thousands of streams open, so a task, a timer or a token
re-check per stream is what its memory is made of (``docs/benchmarks.md``).

Counted on a real server: the tasks on its event loop, the tokens its one token watch holds.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed
from ..support.waiting import wait_until

STREAMS = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("stream-resources")
    settings = Settings(database_path=folder / "sessions.db", heartbeat_seconds=0.3)
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seed:
    return server.call(seed(server.service))


def tasks_on(server: RunningServer) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks()) - 1  # this one aside

    return server.call(count())


def new_sessions(server: RunningServer, seeded: Seed, count: int) -> list[str]:
    with httpx.Client(base_url=server.base_url, headers=seeded.headers(seeded.owner)) as http:
        return [
            http.post(
                f"/v1/projects/{seeded.project_id}/sessions", json=seeded.session_body()
            ).json()["sessionId"]
            for _ in range(count)
        ]


class RawStream:
    """An SSE stream read from a plain socket, so the test holds no task of its own."""

    def __init__(self, server: RunningServer, path: str, token: str) -> None:
        host, port = server.base_url.removeprefix("http://").split(":")
        self.socket = socket.create_connection((host, int(port)), timeout=10)
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
        self.socket.sendall(request.encode())
        self.received = b""

    def read_until(self, marker: bytes) -> None:
        while marker not in self.received:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise AssertionError(f"the stream ended before {marker!r}: {self.received!r}")
            self.received += chunk

    def close(self) -> None:
        self.socket.close()


def open_streams(
    stack: ExitStack, server: RunningServer, seeded: Seed, token: str, count: int
) -> list[RawStream]:
    streams = []
    for session_id in new_sessions(server, seeded, count):
        path = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
        stream = RawStream(server, path, token)
        stack.callback(stream.close)
        stream.read_until(b"event: snapshot")
        streams.append(stream)
    return streams


def test_an_idle_sse_stream_holds_only_its_request_task(
    server: RunningServer, seeded: Seed
) -> None:
    before = tasks_on(server)
    with ExitStack() as stack:
        open_streams(stack, server, seeded, seeded.viewer, STREAMS)
        # Each stream's first snapshot went out from a short task that has ended since.
        during = wait_until(
            lambda: (count := tasks_on(server)) <= before + STREAMS + 1 and count,
            what="the sending tasks to end",
        )
        # One task per request, plus (at most) the one token watch's rounds.
        assert before + STREAMS <= during <= before + STREAMS + 1
        assert server.app.state.live.token_watch.watched_tokens == 1
    wait_until(lambda: tasks_on(server) <= before + 1, what="the streams' tasks to end")
    wait_until(lambda: server.app.state.live.token_watch.watched_tokens == 0)


def test_quiet_streams_all_get_heartbeats_from_the_one_timer(
    server: RunningServer, seeded: Seed
) -> None:
    with ExitStack() as stack:
        streams = open_streams(stack, server, seeded, seeded.editor, 5)
        for stream in streams:
            stream.read_until(b": keep-alive\n\n")


def test_websocket_subscriptions_hold_no_task(server: RunningServer, seeded: Seed) -> None:
    session_ids = new_sessions(server, seeded, STREAMS)
    headers = seeded.headers(seeded.viewer)
    with connect(server.ws_url, additional_headers=headers, open_timeout=5) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
        before = tasks_on(server)
        for session_id in session_ids:
            message = {"type": "subscribe", "id": session_id, "projectId": seeded.project_id}
            ws.send(json.dumps({**message, "sessionId": session_id}))
        snapshots = {json.loads(ws.recv(timeout=5))["id"] for _ in session_ids}
        assert snapshots == set(session_ids)
        # The connection's sending task ends once nothing is left to send.
        wait_until(lambda: tasks_on(server) == before, what="no task per subscription")
        # Still live: a change reaches its subscription.
        with httpx.Client(base_url=server.base_url, headers=seeded.headers(seeded.owner)) as http:
            url = f"/v1/projects/{seeded.project_id}/sessions/{session_ids[3]}"
            http.patch(url, json={"currentStepIndex": 2})
        change = json.loads(ws.recv(timeout=5))
        assert (change["id"], change["session"]["currentStepIndex"]) == (session_ids[3], 2)
