"""One server per SQLite file: a lock file beside the database names the server that holds it.

Live updates travel inside one server process (its change feed): a second server on the same
file would write to it too, and the subscribers of each would never hear of the other's
writes. So ``serve`` takes ``<database>.server-lock`` first, with an OS lock (``flock``) that
dies with the process, so a crashed server never blocks a restart, and writes its PID and
address there for the next one to name.

Only ``serve`` takes it: the other commands (``tokens``, ``purge``, ``sessions``, ...) read and
write the file beside a running server as before, as SQLite's WAL allows.

>>> lock = ServerLock(Path("var/session-runtime.db"))             # doctest: +SKIP
>>> lock.acquire(ServerRecord(pid=os.getpid(), host="127.0.0.1", port=8000))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import CliError

LOCK_SUFFIX = ".server-lock"


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """Who holds the lock: enough to find the process and its address."""

    pid: int
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class DatabaseInUseError(CliError):
    """Another server holds the database."""

    def __init__(self, database: Path, holder: ServerRecord | None) -> None:
        who = (
            "another server (it has not written its PID yet)"
            if holder is None
            else f"the server with PID {holder.pid} at {holder.url}"
        )
        super().__init__(
            f"{database} is already served by {who}: one SQLite file takes one server, whose "
            "subscribers would miss this one's writes. Stop that server first, or give this one "
            "another --database (several nodes share one database on PostgreSQL)."
        )
        self.holder = holder


class ServerLock:
    """The lock file of one database."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + LOCK_SUFFIX)
        self._file: IO[str] | None = None

    def holder(self) -> ServerRecord | None:
        """The server that holds the database now, or ``None``; creates nothing."""
        try:
            file = self.path.open("r", encoding="utf-8")
        except FileNotFoundError:
            return None
        with file:
            if _try_lock(file):
                return None  # a file left by a server that stopped or crashed
            return _read_record(file)

    def acquire(self, record: ServerRecord) -> None:
        """Hold the database for this process, or raise ``DatabaseInUseError``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            file = self.path.open("a+", encoding="utf-8")
            if not _try_lock(file):
                holder = _read_record(file)
                file.close()
                raise DatabaseInUseError(self.database, holder)
            # A server that stopped meanwhile may have removed the file this one locked.
            if _is_same_file(file, self.path):
                break
            file.close()
        file.seek(0)
        file.truncate()
        json.dump({"pid": record.pid, "host": record.host, "port": record.port}, file)
        file.flush()
        self._file = file

    def release(self) -> None:
        """Remove the lock file (while still holding it), then let go."""
        file, self._file = self._file, None
        if file is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        file.close()


def _try_lock(file: IO[str]) -> bool:
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_record(file: IO[str]) -> ServerRecord | None:
    file.seek(0)
    try:
        data = json.loads(file.read())
        return ServerRecord(pid=int(data["pid"]), host=str(data["host"]), port=int(data["port"]))
    except (ValueError, KeyError, TypeError):
        return None  # the holder is still writing it


def _is_same_file(file: IO[str], path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(file.fileno())
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)
