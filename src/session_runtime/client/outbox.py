"""The SDK's outbox: writes made while the server cannot be reached, kept in a local SQLite file
until they are sent, each exactly once.

Turn it on with one option, ``SessionRuntimeClient(url, token, outbox="outbox.db")`` (or the
async client). Then every mutation is first written to the file with an ``Idempotency-Key``
generated once for it, and sent from there in the order it was made:

- answered (2xx): it leaves the file; its answer becomes the session's last server snapshot;
- the server cannot be reached (a connection error, a timeout, 503, 429): it stays, and so do
  the writes behind it; they are sent again with backoff, by a background worker, or when
  ``flush()`` is called, also after a restart of the process (the file survives a crash).
  Sending one again after a lost answer applies nothing twice: the key is the same;
- refused for good (any other error: a 4xx that retrying cannot fix, or a server bug): it
  leaves the file and is reported (``failed_writes``, and ``on_write_failed``). It never blocks
  the writes behind it.

A create made through the outbox carries a client-chosen ``sessionId``, so later writes to that
session can be queued before the server has seen the create. ``session_view()`` shows the last
server snapshot of a session with the pending writes merged in (the domain's rules: ``inputs``
and ``outputs`` deep-merge, ``currentStepIndex`` replaces, a final transition sets the status)
and ``has_pending_writes``, as Firestore's latency compensation does.

This module holds the file and the rules; ``outbox_senders`` sends, from a thread or a task.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from ..domain.errors import ResourceExhaustedError, SessionRuntimeError, UnavailableError
from ..domain.merge import deep_merge
from ..domain.models import ConfigSource, Mode, Session, SessionStatus
from .reconnect import ReconnectPolicy

__all__ = [
    "DEFAULT_OUTBOX_POLICY",
    "FailedWrite",
    "Outbox",
    "PendingWrite",
    "SessionView",
    "WriteFailedCallback",
    "is_retryable",
]

DEFAULT_OUTBOX_POLICY: Final = ReconnectPolicy(
    initial_delay=0.25, max_delay=10.0, max_attempts=None
)
"""How soon queued writes are sent again after the server could not be reached: from a
quarter of a second, doubling, at most ten seconds apart, for as long as it takes."""

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS writes (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        project_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        body TEXT,
        headers TEXT NOT NULL,
        queued_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        project_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        session TEXT NOT NULL,
        PRIMARY KEY (project_id, session_id)
    )""",
)


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """One queued mutation, as the file keeps it."""

    sequence: int
    idempotency_key: str
    kind: str
    """``create``, ``update``, ``complete``, ``abandon`` or ``fail``."""
    project_id: str
    session_id: str
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    queued_at: float
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class FailedWrite:
    """A write the server refused for good: it left the outbox."""

    write: PendingWrite
    error: SessionRuntimeError


WriteFailedCallback = Callable[[FailedWrite], None]

# The columns of ``writes`` are the fields of ``PendingWrite``, by the same names.
_WRITE_FIELDS: Final = tuple(field.name for field in fields(PendingWrite))
_WRITE_COLUMNS: Final = ", ".join(_WRITE_FIELDS)
_JSON_FIELDS: Final = ("body", "headers")


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as this client sees it: the server's last snapshot, pending writes merged.

    ``session`` is ``None`` when the client knows nothing of it (no snapshot, no pending create).
    Its ``version`` is the last one the server confirmed (0 for a create not yet sent).
    """

    session: Session | None
    has_pending_writes: bool


def is_retryable(error: SessionRuntimeError) -> bool:
    """Whether a write that ended in ``error`` stays queued: only what passes by itself."""
    if isinstance(error, UnavailableError):
        return True
    return isinstance(error, ResourceExhaustedError) and error.http_status == 429


class Outbox:
    """The queue of writes and the last server snapshots, in one SQLite file.

    Safe to use from several threads; one process at a time should own a file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # WAL with NORMAL: a committed write survives the process being killed at any moment.
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        for statement in _SCHEMA:
            self._conn.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- the queue ------------------------------------------------------------------------

    def append(
        self,
        *,
        kind: str,
        project_id: str,
        session_id: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> PendingWrite:
        """Queue a write behind every other, with a key of its own; durable on return."""
        key = str(uuid.uuid4())
        queued_at = time.time()
        body_text = None if body is None else orjson.dumps(body).decode()
        headers_text = orjson.dumps(dict(headers)).decode()
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO writes (idempotency_key, kind, project_id, session_id, method, "
                "path, body, headers, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, kind, project_id, session_id, method, path, body_text, headers_text,
                 queued_at),
            )  # fmt: skip
            sequence = cursor.lastrowid
        assert sequence is not None
        return PendingWrite(
            sequence, key, kind, project_id, session_id, method, path,
            None if body is None else orjson.loads(body_text or "null"), dict(headers), queued_at,
        )  # fmt: skip

    def pending(self) -> list[PendingWrite]:
        """Every queued write, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_WRITE_COLUMNS} FROM writes ORDER BY sequence"
            ).fetchall()
        return [_write_from_row(row) for row in rows]

    def count(self) -> int:
        with self._lock:
            count: int = self._conn.execute("SELECT count(*) FROM writes").fetchone()[0]
        return count

    def is_pending(self, sequence: int) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM writes WHERE sequence = ?", (sequence,)
            ).fetchone()
        return row is not None

    def note_attempt(self, write: PendingWrite, error: SessionRuntimeError) -> None:
        """A send that did not reach the server: the write stays, its attempts counted."""
        with self._lock:
            self._conn.execute(
                "UPDATE writes SET attempts = attempts + 1, last_error = ? WHERE sequence = ?",
                (f"{error.code}: {error.message}"[:500], write.sequence),
            )

    def settle(self, write: PendingWrite, session: Session | None) -> None:
        """The write was answered (``session``: what it returned) or refused: it leaves."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM writes WHERE sequence = ?", (write.sequence,))
                if session is not None:
                    self._keep_snapshot(session)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- snapshots and the local view -----------------------------------------------------

    def remember(self, session: Session) -> None:
        """Keep ``session`` as its last server snapshot (unless a newer one is kept)."""
        with self._lock:
            self._keep_snapshot(session)

    def _keep_snapshot(self, session: Session) -> None:
        self._conn.execute(
            "INSERT INTO snapshots (project_id, session_id, session) VALUES (?, ?, ?) "
            "ON CONFLICT (project_id, session_id) DO UPDATE SET session = excluded.session "
            "WHERE json_extract(snapshots.session, '$.version') <= "
            "json_extract(excluded.session, '$.version')",
            (
                session.project_id,
                session.id,
                session.__pydantic_serializer__.to_json(session, by_alias=True).decode(),
            ),
        )

    def snapshot(self, project_id: str, session_id: str) -> Session | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT session FROM snapshots WHERE project_id = ? AND session_id = ?",
                (project_id, session_id),
            ).fetchone()
        return None if row is None else Session.model_validate_json(row[0])

    def view(self, project_id: str, session_id: str) -> SessionView:
        """The last snapshot with this session's pending writes applied, in order."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_WRITE_COLUMNS} FROM writes WHERE project_id = ? AND session_id = ? "
                "ORDER BY sequence",
                (project_id, session_id),
            ).fetchall()
        session = self.snapshot(project_id, session_id)
        writes = [_write_from_row(row) for row in rows]
        for write in writes:
            session = apply_locally(session, write)
        return SessionView(session=session, has_pending_writes=bool(writes))


def apply_locally(session: Session | None, write: PendingWrite) -> Session | None:
    """What ``write`` would make of ``session``, by the server's own rules, without a server.

    A write the server would refuse (progress on a final session) changes nothing here.
    """
    body = write.body or {}
    moment = datetime.fromtimestamp(write.queued_at, UTC)
    if write.kind == "create":
        if session is not None:
            return session
        return Session.trusted(
            id=write.session_id, project_id=write.project_id, event_id=body["eventId"],
            experience_id=body["experienceId"], mode=Mode(body["mode"]),
            config_source=ConfigSource(body["configSource"]), status=SessionStatus.ACTIVE,
            current_step_index=0, inputs={}, outputs={}, created_by="", created_at=moment,
            updated_at=moment, completed_at=None, end_reason=None, version=0,
        )  # fmt: skip
    if session is None:
        return None
    if write.kind == "update":
        if session.is_final:
            return session
        changes: dict[str, Any] = {"updated_at": moment}
        if body.get("currentStepIndex") is not None:
            changes["current_step_index"] = body["currentStepIndex"]
        if body.get("inputs"):
            changes["inputs"] = deep_merge(session.inputs, body["inputs"])
        if body.get("outputs"):
            changes["outputs"] = deep_merge(session.outputs, body["outputs"])
        return session.evolve(**changes)
    target = {
        "complete": SessionStatus.COMPLETED,
        "abandon": SessionStatus.ABANDONED,
        "fail": SessionStatus.ERROR,
    }[write.kind]
    if session.is_final:  # the same transition again is a no-op; another one, refused
        return session
    return session.evolve(
        status=target,
        updated_at=moment,
        completed_at=moment if target is SessionStatus.COMPLETED else None,
        end_reason=body.get("reason"),
    )


def _write_from_row(row: tuple[Any, ...]) -> PendingWrite:
    values = dict(zip(_WRITE_FIELDS, row, strict=True))
    for name in _JSON_FIELDS:
        if values[name] is not None:
            values[name] = orjson.loads(values[name])
    return PendingWrite(**values)
