"""The service is its three parts composed over one context; each part stands on its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from session_runtime import SYSTEM, LocalChangeFeed, OperationRecord, SessionService, SqliteStore
from session_runtime.catalog_service import CatalogOperations
from session_runtime.domain.timestamps import utc_now
from session_runtime.operations import OperationContext
from session_runtime.reporting import ReportingOperations
from session_runtime.service import SessionOperations


def test_each_operation_of_the_service_is_served_by_the_part_that_owns_it(tmp_path: Path) -> None:
    service = SessionService(SqliteStore(tmp_path / "s.db"), LocalChangeFeed())

    assert isinstance(service.catalog, CatalogOperations)
    assert isinstance(service.sessions, SessionOperations)
    assert isinstance(service.reports, ReportingOperations)
    assert service.create_project.__self__ is service.catalog
    assert service.update_session_progress.__self__ is service.sessions
    assert service.sweep_stale_sessions.__self__ is service.reports
    assert service.catalog.context is service.sessions.context is service.reports.context


async def test_a_part_works_alone_over_a_context(tmp_path: Path) -> None:
    seen: list[OperationRecord] = []
    async with SqliteStore(tmp_path / "alone.db") as store:
        context = OperationContext(
            store=store, feed=LocalChangeFeed(), clock=utc_now, observers=[seen.append]
        )
        catalog = CatalogOperations(context)

        project = await catalog.create_project(SYSTEM, {"name": "Photo booth"})

        assert await catalog.get_project(SYSTEM, project.id) == project
    assert [record.action for record in seen] == ["create_project", "get_project"]


async def test_an_observer_added_to_the_service_hears_every_part(
    service: SessionService,
) -> None:
    seen: list[OperationRecord] = []
    service.observers.append(seen.append)

    project = await service.create_project(SYSTEM, {"name": "Photo booth"})
    await service.list_sessions(SYSTEM, project.id)
    await service.sweep_stale_sessions(timedelta(minutes=30))

    assert [record.action for record in seen] == ["create_project", "list", "sweep"]
