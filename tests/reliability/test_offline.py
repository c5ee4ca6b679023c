"""Offline writes, with real processes: nothing lost, nothing applied twice.

Each test runs on SQLite and on PostgreSQL, against a server in a process of its own:

- **server stopped mid-load**: a client with an outbox makes ``OFFLINE_WRITES`` writes over
  ``SESSIONS`` sessions while the server is stopped (SIGTERM) part-way and started again; every
  write lands exactly once and in order per session. Each write ``i`` of a session sets
  ``currentStepIndex = i`` and adds ``inputs.w<i>``; the server's stored answer to it (its
  idempotency record) must carry version ``1 + i``, and the session ends at version
  ``1 + writes`` with every key;
- **answers lost**: a TCP proxy passes each request and drops the response (the write
  committed, the client saw an error); sent again with the same key, nothing applies twice;
- **client killed**: a client process queues writes while the server is away and is killed
  with SIGKILL; a new client process on the same outbox file sends them once the server is up.

``RELIABILITY_OFFLINE_WRITES`` (default 200; ``make reliability`` runs 2,000) sets the first
test's count.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from session_runtime.client import ReconnectPolicy, SessionRuntimeClient, new_session_id
from session_runtime.settings import Settings

from ..support.proxy import LossyProxy
from .conftest import Launch, PostgresTarget, ServerProcess, Tenant, seed, server_settings

pytestmark = pytest.mark.timeout(600)

SESSIONS = 20
OFFLINE_WRITES = int(os.environ.get("RELIABILITY_OFFLINE_WRITES", 200))
STOP_AFTER = SESSIONS + OFFLINE_WRITES // 4  # the creates and a quarter of the writes
QUICK_RETRIES = ReconnectPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.2, max_attempts=None)
FLUSH_SECONDS = 120.0


class Deployment:
    """One store under test: how to start its server and read its idempotency records."""

    def __init__(
        self,
        settings: Settings,
        start: Callable[[], ServerProcess],
        read_answers: Callable[[], list[dict[str, Any]]],
        tenant: Tenant,
    ) -> None:
        self.settings = settings
        self.start = start
        self.read_answers = read_answers
        self.tenant = tenant


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path, launch: Launch) -> Deployment:
    if request.param == "sqlite":
        settings = server_settings(database_path=tmp_path / "sessions.db")

        def read_sqlite() -> list[dict[str, Any]]:
            with sqlite3.connect(settings.database_path) as conn:
                rows = conn.execute("SELECT status, body FROM idempotency_keys").fetchall()
            return [orjson.loads(body) for status, body in rows if status == 200]

        return Deployment(settings, lambda: launch(settings), read_sqlite, seed(settings))
    target: PostgresTarget = request.getfixturevalue("pg_target")
    settings = server_settings(database_url=target.dsn)

    def read_postgres() -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            conn = await target.database.connect(target.schema)
            try:
                rows = await conn.fetch("SELECT status, body FROM idempotency_keys")
            finally:
                await conn.close()
            return [orjson.loads(row["body"]) for row in rows if row["status"] == 200]

        return asyncio.run(read())

    tenant = seed(settings, target.schema)
    return Deployment(
        settings, lambda: launch(settings, schema=target.schema), read_postgres, tenant
    )


def booth(tenant: Tenant) -> dict[str, Any]:
    return {
        "event_id": tenant.event_id,
        "experience_id": tenant.experience_id,
        "mode": "guest",
        "config_source": "published",
    }


def fetch(base_url: str, tenant: Tenant, session_id: str) -> dict[str, Any]:
    response = httpx.get(base_url + tenant.session_path(session_id), headers=tenant.headers)
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def test_writes_made_while_the_server_is_stopped_land_once_in_order(
    deployment: Deployment, tmp_path: Path
) -> None:
    tenant = deployment.tenant
    server = deployment.start()
    made = 0
    failures: list[Any] = []
    sessions: list[str] = []
    per_session = OFFLINE_WRITES // SESSIONS
    with SessionRuntimeClient(
        server.base_url,
        tenant.token,
        timeout=5.0,
        outbox=tmp_path / "outbox.db",
        outbox_policy=QUICK_RETRIES,
        on_write_failed=failures.append,
    ) as sdk:
        project = sdk.project(tenant.project_id)

        def write_all() -> None:
            nonlocal made
            for _ in range(SESSIONS):
                sessions.append(project.create_session(**booth(tenant)).session_id)
                made += 1
            for step in range(1, per_session + 1):
                for session_id in sessions:
                    project.update_session_progress(
                        session_id, current_step_index=step, inputs={f"w{step:04d}": step}
                    )
                    made += 1

        writer = threading.Thread(target=write_all)
        writer.start()
        deadline = time.monotonic() + 120
        while made < STOP_AFTER and writer.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.stop()  # SIGTERM while the writer goes on
        writer.join(timeout=300)
        assert not writer.is_alive()
        assert made == SESSIONS + OFFLINE_WRITES
        queued = len(sdk.pending_writes)
        assert queued > 0  # the stop did come mid-load
        back = deployment.start()
        assert sdk.flush(timeout=FLUSH_SECONDS)
        assert sdk.pending_writes == [] and failures == []
        print(f"\n{made} writes, {queued} queued while the server was away")

    for session_id in sessions:
        session = fetch(back.base_url, tenant, session_id)
        assert session["version"] == 1 + per_session
        assert session["currentStepIndex"] == per_session
        assert session["inputs"] == {f"w{step:04d}": step for step in range(1, per_session + 1)}
    # Each write's own answer, as the server kept it: its place in its session's order.
    answers: dict[str, list[int]] = {session_id: [] for session_id in sessions}
    for answer in deployment.read_answers():
        step = answer["currentStepIndex"]
        assert answer["version"] == 1 + step
        assert max(int(key[1:]) for key in answer["inputs"]) == step
        answers[answer["id"]].append(step)
    for steps in answers.values():
        assert sorted(steps) == list(range(1, per_session + 1))


def test_a_write_whose_answer_was_lost_is_not_applied_twice(
    deployment: Deployment, tmp_path: Path
) -> None:
    tenant = deployment.tenant
    server = deployment.start()
    with LossyProxy(server.settings.port) as proxy:
        created = httpx.post(
            f"{proxy.base_url}/v1/projects/{tenant.project_id}/sessions",
            json=tenant.session_body(),
            headers=tenant.headers,
        )
        assert created.status_code == 201
        session_id = created.json()["sessionId"]
        url = proxy.base_url + tenant.session_path(session_id)

        # Raw requests: each reaches the server, its answer is lost; sent again, replayed.
        proxy.drop_responses = True
        keys = [new_session_id() for _ in range(5)]
        for index, key in enumerate(keys):
            with pytest.raises(httpx.TransportError):
                httpx.patch(
                    url,
                    json={"inputs": {f"raw{index}": index}},
                    headers={**tenant.headers, "Idempotency-Key": key},
                )
        proxy.drop_responses = False
        for index, key in enumerate(keys):
            again = httpx.patch(
                url,
                json={"inputs": {f"raw{index}": index}},
                headers={**tenant.headers, "Idempotency-Key": key},
            )
            assert again.status_code == 200
            assert again.headers["idempotency-replayed"] == "true"
            assert again.json()["version"] == 2 + index

        # Through the SDK's outbox: the lost answers leave the writes queued; the flush
        # replays the one that did commit and sends the rest.
        with SessionRuntimeClient(
            proxy.base_url,
            tenant.token,
            timeout=5.0,
            outbox=tmp_path / "outbox.db",
            outbox_policy=QUICK_RETRIES,
        ) as sdk:
            project = sdk.project(tenant.project_id)
            proxy.drop_responses = True
            for step in range(1, 11):
                project.update_session_progress(
                    session_id, current_step_index=step, inputs={f"sdk{step}": step}
                )
            assert len(sdk.pending_writes) == 10
            proxy.drop_responses = False
            assert sdk.flush(timeout=FLUSH_SECONDS)
            assert sdk.failed_writes == []
        assert proxy.responses_dropped >= 6
    session = fetch(server.base_url, tenant, session_id)
    assert session["version"] == 1 + 5 + 10
    assert session["currentStepIndex"] == 10
    assert len(session["inputs"]) == 15


CLIENT = """
import json, sys, threading
from session_runtime.client import ReconnectPolicy, SessionRuntimeClient
args = json.loads(sys.argv[1])
policy = ReconnectPolicy(initial_delay=0.05, max_delay=0.5, max_attempts=None)
sdk = SessionRuntimeClient(args["url"], args["token"], timeout=2.0, outbox=args["outbox"],
                           outbox_policy=policy)
project = sdk.project(args["project"])
if args["mode"] == "queue":
    for session_id in args["sessions"]:
        project.create_session(session_id=session_id, **args["booth"])
        for step in range(1, args["writes"] + 1):
            project.update_session_progress(session_id, current_step_index=step,
                                            inputs={f"w{step}": step})
    print("queued", len(sdk.pending_writes), flush=True)
    threading.Event().wait()  # until killed
else:
    print("flushed", sdk.flush(timeout=120), len(sdk.pending_writes), flush=True)
    sdk.close()
"""


def run_client(arguments: dict[str, Any], log: Path) -> subprocess.Popen[str]:
    with log.open("ab") as errors:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-c", CLIENT, json.dumps(arguments)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )


def test_writes_queued_by_a_killed_client_land_when_it_starts_again(
    deployment: Deployment, tmp_path: Path
) -> None:
    tenant = deployment.tenant
    sessions = [new_session_id() for _ in range(5)]
    writes = 6
    arguments = {
        "url": f"http://127.0.0.1:{deployment.settings.port}",
        "token": tenant.token,
        "project": tenant.project_id,
        "outbox": str(tmp_path / "outbox.db"),
        "sessions": sessions,
        "writes": writes,
        "booth": booth(tenant),
        "mode": "queue",
    }
    log = tmp_path / "client.log"
    client = run_client(arguments, log)  # the server is not up: everything queues
    try:
        assert client.stdout is not None
        line = client.stdout.readline()
        assert line.split() == ["queued", str(len(sessions) * (1 + writes))], log.read_text()
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)
        if client.stdout is not None:
            client.stdout.close()
    assert client.returncode == -signal.SIGKILL

    server = deployment.start()
    again = run_client({**arguments, "mode": "flush"}, log)
    output, _ = again.communicate(timeout=180)
    assert output.split() == ["flushed", "True", "0"], log.read_text()
    for session_id in sessions:
        session = fetch(server.base_url, tenant, session_id)
        assert session["version"] == 1 + writes
        assert session["currentStepIndex"] == writes
        assert session["inputs"] == {f"w{step}": step for step in range(1, writes + 1)}
