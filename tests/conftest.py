"""Fixtures shared by the whole suite.

- ``clock``: server time under the test's control.
- ``store_factory``: builds stores of every kind the conformance suite covers. It is the one
  place that knows the kinds; a new store (PostgreSQL) is one more entry in ``STORE_KINDS`` and
  one more branch in ``_store_for``.
- ``postgres``: the session's PostgreSQL (``DATABASE_URL``, else a throwaway cluster); each
  test's store gets a schema of its own.
- ``runtime`` / ``service``: a ``SessionRuntime`` over a fresh store, opened and closed.
- ``catalog``, ``callers``, ``new_session``: factories for what an operation needs.
- ``make_session``: a ``Session`` value for tests that need no store at all.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    Principal,
    Session,
    SessionRuntime,
    SessionService,
    SessionStatus,
    SqliteStore,
)

from .factories import Callers, Catalog, ManualClock, NewSession, StoreFactory, build_catalog
from .support.postgres import TEST_DATABASE_VARIABLE, PostgresDatabase, postgres_database

# Servers started by tests leave the test process's garbage collector as it is.
os.environ.setdefault("SESSION_RUNTIME_TUNE_GC", "false")
# DATABASE_URL names the PostgreSQL the tests may use; only the `postgres` fixture reads it.
if "DATABASE_URL" in os.environ:
    os.environ[TEST_DATABASE_VARIABLE] = os.environ.pop("DATABASE_URL")

STORE_KINDS = ("sqlite", "postgres")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabase]:
    """A real PostgreSQL for the whole session: ``DATABASE_URL``, else a throwaway cluster."""
    with postgres_database() as database:
        yield database


def _store_for(kind: str, directory: Path, request: pytest.FixtureRequest) -> StoreFactory:
    """A factory of stores of ``kind`` that all share one database, empty at first."""
    if kind == "sqlite":
        path = directory / "sessions.db"
        return lambda: SqliteStore(path)
    if kind == "postgres":
        # A schema of the test's own; the cluster starts with the first test that needs it.
        database: PostgresDatabase = request.getfixturevalue("postgres")
        return database.store_factory()
    raise ValueError(f"unknown store kind {kind!r}")


@pytest.fixture(params=STORE_KINDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Builds unopened stores over this test's own database (call it again to reopen)."""
    return _store_for(request.param, tmp_path, request)


@pytest.fixture
async def runtime(store_factory: StoreFactory, clock: ManualClock) -> AsyncIterator[SessionRuntime]:
    async with SessionRuntime(store_factory(), clock=clock) as runtime:
        yield runtime


@pytest.fixture
def service(runtime: SessionRuntime) -> SessionService:
    return runtime.service


@pytest.fixture
async def catalog(service: SessionService) -> Catalog:
    return await build_catalog(service)


@pytest.fixture
def callers(service: SessionService, catalog: Catalog) -> Callers:
    return Callers(service, catalog)


@pytest.fixture
def new_session(service: SessionService, catalog: Catalog) -> NewSession:
    """Creates a session through the service (``SYSTEM`` unless told) and returns it."""

    async def create(principal: Principal = SYSTEM, **overrides: Any) -> Session:
        result = await service.create_session(principal, catalog.session_input(**overrides))
        return result.session

    return create


@pytest.fixture
def make_session() -> Callable[..., Session]:
    """Builds a valid ``Session`` value; keyword arguments override the defaults."""
    ids = itertools.count(1)

    def make(**overrides: Any) -> Session:
        moment = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
        values: dict[str, Any] = {
            "id": f"session-{next(ids)}",
            "project_id": "p1",
            "event_id": "e1",
            "experience_id": "x1",
            "mode": "guest",
            "config_source": "published",
            "status": SessionStatus.ACTIVE,
            "current_step_index": 0,
            "inputs": {},
            "outputs": {},
            "created_by": "user:ada",
            "created_at": moment,
            "updated_at": moment,
            "completed_at": None,
            "end_reason": None,
            "version": 1,
        }
        values.update(overrides)
        return Session.model_validate(values)

    return make
