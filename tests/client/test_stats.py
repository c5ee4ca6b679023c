"""The funnel figures through both clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from session_runtime import Mode, SessionStats
from session_runtime.client import PermissionDeniedError, ValidationError

from .conftest import AsyncClientFactory, ClientFactory, World

pytestmark = pytest.mark.timeout(20)


def test_the_sync_client_reads_the_funnel(connect: ClientFactory, world: World) -> None:
    project = connect(world.owner).project(world.project_id)
    for step in (1, 3):
        created = project.create_session(
            event_id=world.event_id,
            experience_id=world.experience_id,
            mode="guest",
            config_source="published",
        )
        project.update_session_progress(created.session_id, current_step_index=step)
    project.complete_session(created.session_id)

    stats = project.session_stats(experience_id=world.experience_id)

    assert isinstance(stats, SessionStats)
    [funnel] = stats.experiences
    assert (funnel.counts.total, funnel.counts.completed, funnel.counts.active) == (2, 1, 1)
    assert [step.reached for step in funnel.steps] == [2, 2, 1, 1]
    assert funnel.median_completion_seconds is not None
    later = datetime.now(UTC) + timedelta(days=1)
    assert project.session_stats(created_from=later).experiences == []
    assert project.session_stats(mode=Mode.PREVIEW).totals.total == 0


def test_the_sync_client_raises_the_servers_errors(connect: ClientFactory, world: World) -> None:
    with pytest.raises(PermissionDeniedError):
        connect(world.guest).project(world.project_id).session_stats()
    with pytest.raises(ValidationError):
        connect(world.owner).project(world.project_id).session_stats(mode="everyone")


async def test_the_async_client_reads_the_funnel(
    aconnect: AsyncClientFactory, world: World
) -> None:
    project = aconnect(world.viewer).project(world.project_id)

    stats = await project.session_stats(event_id=world.event_id)

    assert stats.project_id == world.project_id
    assert stats.event_id == world.event_id
    assert stats.totals.total == 0
