"""Crash: a server killed with SIGKILL under load loses no acknowledged write.

Ten times in a row a server process starts on the same database, eight writers send PATCHes
(each adding a key of its own to one of four sessions) as fast as it answers, and at a random
moment once writes are being acknowledged the process gets SIGKILL: no shutdown code runs.
After each kill the database is read directly, not through a server:

- every key whose PATCH got a 2xx is stored (an acknowledged write is durable);
- no key is stored that no writer sent, and each session's version is 1 + its stored keys (a
  write is whole or absent; a request cut off by the kill may have landed or not);
- on SQLite, ``PRAGMA integrity_check`` answers ``ok``.

The next server then starts on that database, and must answer ``/readyz``. On SQLite the
server is the real ``session-runtime serve``; on PostgreSQL it is the same app on a schema of
the test's own, killed while PostgreSQL keeps running.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .conftest import Launch, PostgresTarget, ServerProcess, Tenant, seed, server_settings

ROUNDS = 10
WRITERS = 8
SESSIONS = 4
KILL_AFTER_SECONDS = (0.05, 1.0)  # the random moment, after the first acknowledged write
MAX_WRITES_EACH = 5_000  # per writer and round; the kill comes long before
ROUND_SECONDS = 20.0


@dataclass
class Ledger:
    """What the writers were told: keys acknowledged, and keys whose answer never came."""

    acknowledged: dict[str, set[str]] = field(default_factory=dict)
    in_doubt: dict[str, set[str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def sent(self, session_id: str) -> set[str]:
        return self.acknowledged[session_id] | self.in_doubt[session_id]


Stored = dict[str, tuple[int, set[str]]]  # session id -> (version, keys of inputs)


async def load_until_killed(
    server: ServerProcess, tenant: Tenant, session_ids: list[str], ledger: Ledger, round_: int
) -> None:
    """Writers at full speed; SIGKILL at a random moment once writes are being acknowledged;
    return once every writer stopped."""
    under_load = asyncio.Event()

    async def writer(number: int) -> None:
        session_id = session_ids[number % SESSIONS]
        path = tenant.session_path(session_id)
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=tenant.headers, timeout=10
        ) as client:
            for index in range(MAX_WRITES_EACH):
                key = f"r{round_}-w{number}-{index}"
                try:
                    response = await client.patch(path, json={"inputs": {key: index}})
                except httpx.TransportError:
                    ledger.in_doubt[session_id].add(key)
                    return
                if response.is_success:
                    ledger.acknowledged[session_id].add(key)
                    under_load.set()
                else:
                    ledger.refused.append(f"{response.status_code} {response.text[:200]}")
                    return

    async def killer() -> None:
        try:
            async with asyncio.timeout(ROUND_SECONDS / 2):
                await under_load.wait()
            await asyncio.sleep(random.uniform(*KILL_AFTER_SECONDS))
        finally:
            server.kill()

    async with asyncio.timeout(ROUND_SECONDS):
        await asyncio.gather(killer(), *(writer(number) for number in range(WRITERS)))


def create_sessions(server: ServerProcess, tenant: Tenant) -> list[str]:
    url = f"{server.base_url}/v1/projects/{tenant.project_id}/sessions"
    ids = []
    for _ in range(SESSIONS):
        response = httpx.post(url, json=tenant.session_body(), headers=tenant.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["sessionId"])
    return ids


def check(stored: Stored, ledger: Ledger, round_: int) -> None:
    assert ledger.refused == [], ledger.refused
    for session_id, (version, keys) in stored.items():
        lost = ledger.acknowledged[session_id] - keys
        assert lost == set(), f"round {round_}: {len(lost)} acknowledged writes lost"
        assert keys <= ledger.sent(session_id), f"round {round_}: keys nobody sent"
        assert version == 1 + len(keys), f"round {round_}: version {version}, {len(keys)} keys"


def kill_ten_times(
    launch_server: Callable[[], ServerProcess], tenant: Tenant, read: Callable[[], Stored]
) -> list[int]:
    """The rounds; returns how many writes were acknowledged in each."""
    server = launch_server()
    servers = [server]
    session_ids = create_sessions(server, tenant)
    ledger = Ledger(
        acknowledged={session_id: set() for session_id in session_ids},
        in_doubt={session_id: set() for session_id in session_ids},
    )
    per_round = []
    for round_ in range(ROUNDS):
        if round_ > 0:
            server = launch_server()  # waits for /readyz: the server started cleanly
            servers.append(server)
        before = sum(map(len, ledger.acknowledged.values()))
        asyncio.run(load_until_killed(server, tenant, session_ids, ledger, round_))
        assert server.process.returncode == -9
        per_round.append(sum(map(len, ledger.acknowledged.values())) - before)
        check(read(), ledger, round_)
    for each in servers:
        assert "Traceback" not in each.log.read_text(errors="replace"), each.log
    return per_round


def test_sqlite_server_killed_ten_times_keeps_every_acknowledged_write(
    tmp_path: Path, launch: Launch
) -> None:
    database = tmp_path / "sessions.db"
    settings = server_settings(database_path=database)
    tenant = seed(settings)

    def read() -> Stored:
        conn = sqlite3.connect(database)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = conn.execute("SELECT id, version, inputs FROM sessions").fetchall()
        finally:
            conn.close()
        return {row[0]: (row[1], set(json.loads(row[2]))) for row in rows}

    started = time.monotonic()
    per_round = kill_ten_times(lambda: launch(settings, serve=True), tenant, read)
    print(f"\nSQLite: acknowledged per round {per_round} in {time.monotonic() - started:.1f} s")
    assert all(count > 0 for count in per_round)


def test_postgres_server_killed_ten_times_keeps_every_acknowledged_write(
    pg_target: PostgresTarget, launch: Launch
) -> None:
    settings = server_settings(database_url=pg_target.dsn)
    tenant = seed(settings, pg_target.schema)

    def read() -> Stored:
        async def fetch() -> Stored:
            conn = await pg_target.database.connect(pg_target.schema)
            try:
                rows = await conn.fetch("SELECT id, version, inputs FROM sessions")
            finally:
                await conn.close()
            return {row["id"]: (row["version"], set(json.loads(row["inputs"]))) for row in rows}

        return asyncio.run(fetch())

    started = time.monotonic()
    per_round = kill_ten_times(lambda: launch(settings, schema=pg_target.schema), tenant, read)
    print(f"\nPostgreSQL: acknowledged per round {per_round} in {time.monotonic() - started:.1f} s")
    assert all(count > 0 for count in per_round)
