"""Wiring: a store, a change feed and the service, opened and closed together."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from .domain.ports import Store
from .domain.timestamps import utc_now
from .realtime.hub import LocalChangeFeed
from .service import Clock, Observer, SessionService
from .settings import Settings
from .storage.sqlite import SqliteStore, Synchronous


class Listener(Protocol):
    """Brings changes committed elsewhere (other server nodes) to the local feed."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SessionRuntime:
    """A ready-to-use service over a store, with in-process live updates.

    >>> async with SessionRuntime.sqlite("var/demo.db") as runtime:   # doctest: +SKIP
    ...     project = await runtime.service.create_project(SYSTEM, {"name": "Demo"})
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = utc_now,
        observers: tuple[Observer, ...] = (),
        token_cache_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.feed = LocalChangeFeed()
        self.listener: Listener | None = None
        self.service = SessionService(
            store,
            self.feed,
            clock=clock,
            observers=observers,
            token_cache_seconds=token_cache_seconds,
        )

    @classmethod
    def sqlite(
        cls,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 5000,
        clock: Clock = utc_now,
        token_cache_seconds: float = 0.0,
    ) -> SessionRuntime:
        store = SqliteStore(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
        return cls(store, clock=clock, token_cache_seconds=token_cache_seconds)

    @classmethod
    def postgres(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        min_pool: int = 2,
        max_pool: int = 10,
        clock: Clock = utc_now,
        token_cache_seconds: float = 0.0,
    ) -> SessionRuntime:
        """Over PostgreSQL, live across every server node on the same database."""
        from .realtime.postgres import PostgresChangeListener
        from .storage.postgres import PostgresStore

        store = PostgresStore(dsn, schema=schema, min_pool=min_pool, max_pool=max_pool)
        runtime = cls(store, clock=clock, token_cache_seconds=token_cache_seconds)
        runtime.listener = PostgresChangeListener(store, runtime.feed)
        return runtime

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionRuntime:
        """PostgreSQL when ``database_url`` is set, else the SQLite file."""
        if settings.database_url:
            return cls.postgres(
                settings.database_url,
                min_pool=settings.pg_min_pool,
                max_pool=settings.pg_max_pool,
                token_cache_seconds=settings.token_cache_seconds,
            )
        return cls.sqlite(
            settings.database_path,
            synchronous=settings.synchronous,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            token_cache_seconds=settings.token_cache_seconds,
        )

    async def open(self) -> None:
        await self.store.open()
        if self.listener is not None:
            await self.listener.start()

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        await self.store.close()

    async def __aenter__(self) -> SessionRuntime:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
