"""Contention: 64 writers on 8 sessions through the HTTP API lose nothing.

A real server (uvicorn, in a process of its own) on SQLite, then on PostgreSQL. Before the load
starts, every session has an SSE subscriber and one WebSocket connection follows all eight.
Each of 64 writers sends ``WRITES_EACH`` PATCHes, one after the other, to its session (writer
``w`` writes session ``w % 8``), each adding a key no other write adds. Afterwards:

- every key acknowledged (200) is in the stored session, and no other key is;
- per session, the versions the responses carried are exactly 2, 3, ..., 1 + acknowledged
  writes: none repeated, none skipped, and the stored version is the last of them;
- every subscriber's last snapshot equals the stored session.

Subscribers parse only what they must: an SSE reader finds event boundaries in the bytes and
decodes the last complete event when asked, so reading at full speed costs the test process
little (a fast reader may receive every snapshot; a slow one gets coalesced ones).

Every write carries the whole session back, and the server decodes, merges and encodes the
whole document on each one, so a write costs in proportion to the keys already stored. At
1,000 writes each (8,000 keys per session at the end, 64,000 writes) one run takes minutes on
a two-core machine: ``RELIABILITY_WRITES_EACH=1000`` runs that full count (with
``--timeout=1200``); by default each writer sends ``DEFAULT_WRITES_EACH``, which keeps the 64
writers and 8 sessions and fits the suite's time.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from .conftest import Launch, PostgresTarget, Tenant, seed, server_settings

WRITERS = 64
SESSIONS = 8
DEFAULT_WRITES_EACH = 150
WRITES_EACH = int(os.environ.get("RELIABILITY_WRITES_EACH", DEFAULT_WRITES_EACH))
LOAD_SECONDS = max(100.0, WRITES_EACH * 1.0)  # a bound, never reached on a healthy run
SETTLE_SECONDS = 15.0
SNAPSHOT_PREFIX = b'{"type":"snapshot","id":"'
TLS_CONTEXT = ssl.create_default_context()  # unused on http://, but each client would load one


class SseFollower:
    """Reads one session's event stream, keeping the newest complete event undecoded."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self.latest_event = b""
        self.latest_version = 0
        self.events = 0
        self._opened = asyncio.Event()
        self._task = asyncio.create_task(self._follow(client, url, headers))

    async def _follow(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with client.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200
            self._opened.set()
            pending = b""
            async for chunk in response.aiter_raw():
                pending += chunk
                end = pending.rfind(b"\n\n")
                if end < 0:
                    continue
                complete, pending = pending[: end + 2], pending[end + 2 :]
                self.events += complete.count(b"\nevent: snapshot\n")
                start = complete.rfind(b"id: ")
                if start >= 0:
                    event = complete[start:]
                    self.latest_version = int(event[4 : event.index(b"\n")])
                    self.latest_event = event

    async def opened(self) -> None:
        async with asyncio.timeout(10):
            await self._opened.wait()

    @property
    def latest(self) -> dict[str, Any]:
        data = self.latest_event.split(b"\ndata: ", 1)[1]
        session: dict[str, Any] = json.loads(data)
        return session

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class WebSocketFollower:
    """One connection following every session; keeps the newest snapshot of each."""

    def __init__(self, url: str, token: str, project_id: str, session_ids: list[str]) -> None:
        self._raw: dict[str, bytes] = {}
        self._url, self._token = url, token
        self._project_id, self._session_ids = project_id, session_ids
        self._subscribed = asyncio.Event()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with websockets.connect(self._url, additional_headers=headers, max_size=None) as ws:
            for session_id in self._session_ids:
                message = {"type": "subscribe", "id": session_id, "projectId": self._project_id}
                await ws.send(json.dumps({**message, "sessionId": session_id}))
            while True:
                # Kept undecoded: the server writes `{"type":"snapshot","id":"<id>","session":`
                # before the document, so the id is found without parsing it.
                raw = await ws.recv(decode=False)
                assert raw.startswith(SNAPSHOT_PREFIX), raw[:200]
                end = raw.index(b'"', len(SNAPSHOT_PREFIX))
                self._raw[raw[len(SNAPSHOT_PREFIX) : end].decode()] = raw
                if len(self._raw) == len(self._session_ids):
                    self._subscribed.set()

    async def subscribed(self) -> None:
        async with asyncio.timeout(10):
            await self._subscribed.wait()

    def latest(self, session_id: str) -> dict[str, Any]:
        session: dict[str, Any] = orjson.loads(self._raw[session_id])["session"]
        return session

    def version(self, session_id: str) -> int:
        raw = self._raw.get(session_id)
        if raw is None:
            return 0
        at = raw.rindex(b'"version":') + len(b'"version":')
        return int(raw[at : raw.index(b"}", at)].split(b",")[0])

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


Acknowledged = dict[int, list[tuple[int, str]]]  # session index -> (version, key) per 200


async def contend(base_url: str, tenant: Tenant) -> None:
    headers = tenant.headers
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        session_ids = []
        for _ in range(SESSIONS):
            created = await http.post(
                f"/v1/projects/{tenant.project_id}/sessions", json=tenant.session_body()
            )
            assert created.status_code == 201, created.text
            session_ids.append(created.json()["sessionId"])
        paths = [tenant.session_path(session_id) for session_id in session_ids]
        sse = [SseFollower(http, path + "/events", headers) for path in paths]
        ws_url = base_url.replace("http", "ws", 1) + "/v1/ws"
        ws = WebSocketFollower(ws_url, tenant.token, tenant.project_id, session_ids)
        acknowledged: Acknowledged = defaultdict(list)
        try:
            for follower in sse:
                await follower.opened()
            await ws.subscribed()
            await load(base_url, headers, paths, acknowledged)
            stored = []
            for path in paths:
                response = await http.get(path)
                assert response.status_code == 200
                stored.append(response.json())
            async with asyncio.timeout(SETTLE_SECONDS):
                for index, session in enumerate(stored):
                    while (
                        sse[index].latest_version < session["version"]
                        or ws.version(session["id"]) < session["version"]
                    ):
                        await asyncio.sleep(0.05)
            print(f"SSE snapshots received: {[follower.events for follower in sse]}")
        finally:
            for follower in sse:
                await follower.close()
            await ws.close()

    for index, session in enumerate(stored):
        writes = acknowledged[index]
        assert len(writes) == WRITERS // SESSIONS * WRITES_EACH
        versions = sorted(version for version, _ in writes)
        assert versions == list(range(2, len(writes) + 2))  # unique, gapless
        assert session["version"] == 1 + len(writes)
        assert set(session["inputs"]) == {key for _, key in writes}
        assert sse[index].latest == session
        assert ws.latest(session["id"]) == session


async def load(
    base_url: str, headers: dict[str, str], paths: list[str], acknowledged: Acknowledged
) -> None:
    write_headers = {**headers, "Content-Type": "application/json"}
    failures: list[str] = []

    async def writer(number: int) -> None:
        # A client of its own with one connection: httpcore's pool looks at every connection
        # it holds on each request, which made 64 connections in one pool the test's main
        # cost. The URL is parsed once; the TLS context is shared.
        target = number % SESSIONS
        url = httpx.URL(base_url + paths[target])
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            headers=write_headers, limits=limits, timeout=30, verify=TLS_CONTEXT
        ) as client:
            for index in range(WRITES_EACH):
                key = b"%02x%03x" % (number, index)  # short: every answer is the whole session
                response = await client.patch(url, content=b'{"inputs":{"%s":0}}' % key)
                if response.status_code == 200:
                    version = int(response.headers["etag"].strip('"'))
                    acknowledged[target].append((version, key.decode()))
                else:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.monotonic()
    async with asyncio.timeout(LOAD_SECONDS):
        await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    print(f"\n{WRITERS * WRITES_EACH} writes in {time.monotonic() - started:.1f} s")
    assert failures == []


def test_sqlite_contention_loses_no_key(tmp_path: Path, launch: Launch) -> None:
    settings = server_settings(database_path=tmp_path / "sessions.db")
    tenant = seed(settings)
    server = launch(settings)
    asyncio.run(contend(server.base_url, tenant))


def test_postgres_contention_loses_no_key(pg_target: PostgresTarget, launch: Launch) -> None:
    settings = server_settings(database_url=pg_target.dsn)
    tenant = seed(settings, pg_target.schema)
    server = launch(settings, schema=pg_target.schema)
    asyncio.run(contend(server.base_url, tenant))
