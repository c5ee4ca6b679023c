"""The lock file that keeps a SQLite database to one server (the processes: ``test_serve``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from session_runtime.cli.server_lock import DatabaseInUseError, ServerLock, ServerRecord


def test_looking_for_a_holder_creates_nothing(tmp_path: Path) -> None:
    assert ServerLock(tmp_path / "var" / "x.db").holder() is None
    assert list(tmp_path.iterdir()) == []


def test_a_held_database_names_its_server_until_released(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    first, second = ServerLock(database), ServerLock(database)
    record = ServerRecord(pid=os.getpid(), host="::1", port=8123)

    first.acquire(record)
    assert second.holder() == record
    with pytest.raises(DatabaseInUseError) as refused:
        second.acquire(ServerRecord(pid=1, host="127.0.0.1", port=9000))
    assert refused.value.holder == record
    assert f"PID {os.getpid()} at http://[::1]:8123" in refused.value.message

    first.release()
    assert not first.path.exists()
    assert second.holder() is None
    second.acquire(ServerRecord(pid=1, host="127.0.0.1", port=9000))
    assert first.holder() == ServerRecord(pid=1, host="127.0.0.1", port=9000)
    second.release()


def test_a_lock_file_nobody_holds_is_taken_over(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    lock = ServerLock(database)
    lock.path.write_text('{"pid": 4242, "host": "127.0.0.1", "port": 8000}', encoding="utf-8")

    assert lock.holder() is None  # a server that crashed left it
    lock.acquire(ServerRecord(pid=os.getpid(), host="127.0.0.1", port=8001))
    assert ServerLock(database).holder() == ServerRecord(os.getpid(), "127.0.0.1", 8001)
    lock.release()
