"""A real PostgreSQL for the tests, and a TCP proxy to take it away.

``postgres_database()`` yields a ``PostgresDatabase``: the one named by ``DATABASE_URL`` when
it is set, else a throwaway cluster started for the test session (``initdb`` into a temporary
folder, ``pg_ctl start`` on a free port of 127.0.0.1, ``fsync=off``; stopped and deleted at the
end). As root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` user, since both refuse root.
With neither available the tests fail, saying what to install: a store that was never tested
must not look like a store that passed.

Each test gets a schema of its own (``PostgresDatabase.store_factory``), which costs a few
milliseconds where a database or a cluster per test would cost far more.

``TcpProxy`` stands between a store and the database, so a test can cut the connection or let
it hang, as a network or a server that went away would.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from session_runtime.storage.postgres import PostgresStore
from session_runtime.storage.postgres_schema import quote_identifier

INSTALL_HINT = (
    "these tests need PostgreSQL: install the `postgresql` package (Debian: "
    "`apt-get install -y postgresql`) so that `initdb` is found, or set DATABASE_URL to a "
    "database the tests may create schemas in"
)
SCHEMA_PREFIX = "srt_test_"
# tests/conftest.py moves DATABASE_URL here before any test runs, so that servers and settings
# built by other tests keep their SQLite default instead of landing in that database.
TEST_DATABASE_VARIABLE = "SESSION_RUNTIME_TESTS_DATABASE_URL"


def find_initdb() -> Path | None:
    """``initdb`` of the newest PostgreSQL installed the Debian way, else the one on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1])
    on_path = shutil.which("initdb")
    return None if on_path is None else Path(on_path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, for one test session."""

    def __init__(self, initdb: Path) -> None:
        self.bin_dir = initdb.parent
        self.root = Path(tempfile.mkdtemp(prefix="srt-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = 0
        self.is_root = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.is_root:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            command = [runuser, "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> str:
        if self.is_root:
            try:
                shutil.chown(self.root, user="postgres")
            except LookupError as exc:
                raise RuntimeError(
                    f"running as root needs a `postgres` user: {INSTALL_HINT}"
                ) from exc
        done = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        for _attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off"
            )
            done = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
            )
            if done.returncode == 0:
                return self.dsn
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{log[-4000:]}")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def run_async(function: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine function to completion on a loop of its own, in a thread of its own,
    so it works whether or not the calling thread runs an event loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(function())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


class PostgresDatabase:
    """One database for the test session, handing each test a schema of its own."""

    def __init__(self, dsn: str, *, drop_schemas: bool) -> None:
        self.dsn = dsn
        self.drop_schemas = drop_schemas
        self.schemas: list[str] = []

    def new_schema(self) -> str:
        schema = f"{SCHEMA_PREFIX}{secrets.token_hex(6)}"
        self.schemas.append(schema)
        return schema

    def store_factory(self, **options: Any) -> Callable[[], PostgresStore]:
        """Stores over a fresh schema (created when the first one opens); again to reopen."""
        schema = self.new_schema()
        return lambda: PostgresStore(self.dsn, schema=schema, **options)

    async def connect(self, schema: str | None = None) -> Any:
        """A plain asyncpg connection, inside ``schema`` when one is given."""
        settings = {} if schema is None else {"search_path": quote_identifier(schema)}
        return await asyncpg.connect(self.dsn, timeout=10, server_settings=settings)

    def drop_all(self) -> None:
        if not self.drop_schemas or not self.schemas:
            return

        async def drop() -> None:
            conn = await asyncpg.connect(self.dsn, timeout=10)
            try:
                for schema in self.schemas:
                    await conn.execute(f"DROP SCHEMA IF EXISTS {quote_identifier(schema)} CASCADE")
            finally:
                await conn.close()

        run_async(drop)


@contextlib.contextmanager
def postgres_database() -> Iterator[PostgresDatabase]:
    """``DATABASE_URL``'s database, or a throwaway cluster's, for the whole test session."""
    configured = os.environ.get(TEST_DATABASE_VARIABLE)
    if configured:
        database = PostgresDatabase(configured, drop_schemas=True)
        try:
            yield database
        finally:
            database.drop_all()
        return
    initdb = find_initdb()
    if initdb is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    cluster = ThrowawayCluster(initdb)
    try:
        dsn = cluster.start()
        # The whole cluster goes away at the end: no need to drop the schemas one by one.
        yield PostgresDatabase(dsn, drop_schemas=False)
    finally:
        cluster.stop()


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to the server of ``dsn``, until told to cut or to stall.

    - ``cut()``: refuse new connections and reset the open ones (the server went away);
    - ``reset_connections()``: reset the open ones only (callable from synchronous code);
    - ``stall()``: accept connections and keep them open, but forward nothing either way
      (a network that drops packets): only timeouts can end what waits on it;
    - ``restore()``: forward again, on the same port.

    ``dsn`` (after ``start()``) is the given DSN with the proxy in place of the server.
    """

    def __init__(self, dsn: str) -> None:
        self._target = urlsplit(dsn)
        self.upstream = (self._target.hostname or "127.0.0.1", self._target.port or 5432)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def dsn(self) -> str:
        userinfo = self._target.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(self._target._replace(netloc=netloc))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        for source, target in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                target.write(data)
                await target.drain()
        except OSError:
            pass
        finally:
            target.transport.abort()
            self._writers.discard(target)

    def reset_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.reset_connections()
        if server is not None:
            await server.wait_closed()

    def stall(self) -> None:
        self._flowing.clear()

    async def restore(self) -> None:
        self._flowing.set()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        self._flowing.set()
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
