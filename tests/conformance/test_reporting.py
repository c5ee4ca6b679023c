"""The funnel, export, the stale-session sweep and purge, on every store."""

from __future__ import annotations

import asyncio
import statistics
from datetime import timedelta
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    NotFoundError,
    PermissionDeniedError,
    Session,
    SessionRuntime,
    SessionService,
    SessionStatus,
    ValidationError,
)
from session_runtime.domain.models import Mode

from ..factories import Callers, Catalog, ManualClock, NewSession, StoreFactory


async def advance(service: SessionService, session: Session, step: int) -> Session:
    return await service.update_session_progress(
        SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": step}
    )


async def seed_funnel(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> dict[str, Any]:
    """Guest sessions of the first experience at known steps and statuses, plus noise that
    the default funnel must leave out (previews) or put elsewhere (the second experience)."""
    guest = {"mode": "guest", "configSource": "published"}
    durations: list[float] = []
    for step, seconds in ((3, 40.0), (3, 10.0), (2, 25.0)):
        session = await new_session(**guest)
        session = await advance(service, session, step)
        clock.advance(timedelta(seconds=seconds))
        done = await service.complete_session(SYSTEM, catalog.project_id, session.id)
        assert done.completed_at is not None
        durations.append((done.completed_at - done.created_at).total_seconds())
    for step in (0, 1, 1):
        await advance(service, await new_session(**guest), step)
    abandoned = await advance(service, await new_session(**guest), 2)
    await service.abandon_session(SYSTEM, catalog.project_id, abandoned.id)
    failed = await new_session(**guest)
    await service.fail_session(
        SYSTEM, catalog.project_id, {"sessionId": failed.id, "reason": "camera"}
    )
    await advance(service, await new_session(), 5)  # a preview
    other = await new_session(experienceId=catalog.second_experience_id, **guest)
    await advance(service, other, 1)
    await new_session(eventId=catalog.second_event_id, **guest)
    return {"median": statistics.median(durations)}


async def test_the_funnel_counts_guest_sessions_by_step_and_status(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    seeded = await seed_funnel(service, catalog, new_session, clock)

    stats = await service.session_stats(SYSTEM, catalog.project_id)

    funnels = {funnel.experience_id: funnel for funnel in stats.experiences}
    first = funnels[catalog.experience_id]
    assert first.counts.model_dump() == {
        "total": 9, "active": 4, "completed": 3, "abandoned": 1, "error": 1,
    }  # fmt: skip
    # Steps: 3, 3, 2 (completed), 0, 1, 1 (active), 2 (abandoned), 0 (failed), 0 (other event).
    assert [(step.step_index, step.reached) for step in first.steps] == [
        (0, 9), (1, 6), (2, 4), (3, 2),
    ]  # fmt: skip
    assert first.median_completion_seconds == pytest.approx(seeded["median"], abs=0.01)
    second = funnels[catalog.second_experience_id]
    assert second.counts.total == 1
    assert [step.reached for step in second.steps] == [1, 1]
    assert second.median_completion_seconds is None
    assert stats.totals.total == 10
    assert stats.mode is Mode.GUEST


async def test_the_funnel_filters(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    await seed_funnel(service, catalog, new_session, clock)

    previews = await service.session_stats(SYSTEM, catalog.project_id, {"mode": "preview"})
    by_event = await service.session_stats(
        SYSTEM, catalog.project_id, {"eventId": catalog.second_event_id}
    )
    one = await service.session_stats(
        SYSTEM, catalog.project_id, {"experienceId": catalog.second_experience_id}
    )

    assert [(f.experience_id, f.counts.total) for f in previews.experiences] == [
        (catalog.experience_id, 1)
    ]
    assert [step.reached for step in previews.experiences[0].steps] == [1] * 6
    assert by_event.totals.total == 1
    assert [f.experience_id for f in one.experiences] == [catalog.second_experience_id]


async def test_the_funnel_bounds_creation_time(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    guest = {"mode": "guest", "configSource": "published"}
    early = await new_session(**guest)
    clock.advance(timedelta(hours=1))
    late = await new_session(**guest)

    def window(start: Any, end: Any) -> dict[str, Any]:
        return {"from": start.isoformat(), "to": end.isoformat()}

    only_early = await service.session_stats(
        SYSTEM, catalog.project_id, window(early.created_at, late.created_at)
    )
    only_late = await service.session_stats(
        SYSTEM, catalog.project_id, window(late.created_at, late.created_at + timedelta(1))
    )

    assert only_early.totals.total == 1
    assert only_late.totals.total == 1
    with pytest.raises(ValidationError):
        await service.session_stats(
            SYSTEM, catalog.project_id, window(late.created_at, early.created_at)
        )


async def test_an_even_count_takes_the_mean_of_the_middle_two(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    for seconds in (10, 20, 30, 100):
        session = await new_session(mode="guest", configSource="published")
        clock.advance(timedelta(seconds=seconds))
        await service.complete_session(SYSTEM, catalog.project_id, session.id)

    stats = await service.session_stats(SYSTEM, catalog.project_id)

    assert stats.experiences[0].median_completion_seconds == pytest.approx(25.0, abs=0.01)


async def test_the_funnel_is_for_members(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    viewer = await callers.viewer()
    assert (await service.session_stats(viewer, catalog.project_id)).totals.total == 0
    with pytest.raises(PermissionDeniedError):
        await service.session_stats(await callers.guest(), catalog.project_id)
    with pytest.raises(PermissionDeniedError):
        await service.session_stats(await callers.outsider(), catalog.project_id)
    with pytest.raises(NotFoundError):
        await service.session_stats(SYSTEM, "no-such-project")


async def test_export_yields_every_matching_session_once(
    service: SessionService, catalog: Catalog, new_session: NewSession
) -> None:
    created = [await new_session(mode="guest", configSource="published") for _ in range(1203)]
    await new_session()  # a preview, filtered out

    page, filters = await service.first_export_page(SYSTEM, catalog.project_id, {"mode": "guest"})
    exported = [s async for s in service.export_sessions(SYSTEM, catalog.project_id, page, filters)]

    assert [s.id for s in exported] == [s.id for s in reversed(created)]


async def test_export_of_a_missing_project_is_refused_before_anything(
    service: SessionService, callers: Callers
) -> None:
    with pytest.raises(NotFoundError):
        await service.first_export_page(SYSTEM, "no-such-project")
    with pytest.raises(PermissionDeniedError):
        await service.first_export_page(await callers.outsider(), "no-such-project")


async def test_the_sweep_abandons_only_stale_active_sessions(
    runtime: SessionRuntime, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    service = runtime.service
    stale = await new_session()
    finished = await new_session()
    await service.complete_session(SYSTEM, catalog.project_id, finished.id)
    clock.advance(timedelta(minutes=20))
    fresh = await new_session()
    watched = await service.subscribe_session(SYSTEM, catalog.project_id, stale.id)
    clock.advance(timedelta(minutes=11))

    swept = await service.sweep_stale_sessions(timedelta(minutes=30))

    assert [s.id for s in swept] == [stale.id]
    stored = await service.get_session(SYSTEM, catalog.project_id, stale.id)
    assert stored.status is SessionStatus.ABANDONED
    assert stored.end_reason == "no update for 30 minutes"
    assert stored.version == stale.version + 1
    assert stored.completed_at is None
    untouched = await service.get_session(SYSTEM, catalog.project_id, fresh.id)
    assert untouched.status is SessionStatus.ACTIVE and untouched.version == 1
    # A subscriber that had not read yet gets the latest snapshot: the swept one.
    snapshot = await asyncio.wait_for(anext(watched), 2)
    assert (snapshot.version, snapshot.status) == (2, SessionStatus.ABANDONED)
    assert await service.sweep_stale_sessions(timedelta(minutes=30)) == []


async def test_an_update_saves_a_session_from_the_sweep(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    session = await new_session()
    clock.advance(timedelta(minutes=29))
    await advance(service, session, 1)
    clock.advance(timedelta(minutes=29))

    assert await service.sweep_stale_sessions(timedelta(minutes=30)) == []


async def test_two_nodes_sweep_each_session_once(
    store_factory: StoreFactory, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    stale = [await new_session() for _ in range(40)]
    clock.advance(timedelta(hours=1))
    async with (
        SessionRuntime(store_factory(), clock=clock) as one,
        SessionRuntime(store_factory(), clock=clock) as two,
    ):
        results = await asyncio.gather(
            one.service.sweep_stale_sessions(timedelta(minutes=30), limit=25),
            two.service.sweep_stale_sessions(timedelta(minutes=30), limit=25),
            one.service.sweep_stale_sessions(timedelta(minutes=30)),
            two.service.sweep_stale_sessions(timedelta(minutes=30)),
        )
        swept = [s.id for result in results for s in result]
        assert sorted(swept) == sorted(s.id for s in stale)
        for session in stale:
            stored = await one.service.get_session(SYSTEM, catalog.project_id, session.id)
            assert (stored.status, stored.version) == (SessionStatus.ABANDONED, 2)


async def test_purge_deletes_old_sessions_and_dry_run_only_counts(
    service: SessionService, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    old_preview = await new_session()
    old_guest = await new_session(mode="guest", configSource="published")
    await service.complete_session(SYSTEM, catalog.project_id, old_guest.id)
    clock.advance(timedelta(days=100))
    recent = await new_session()

    counted = await service.purge_sessions(SYSTEM, timedelta(days=90), dry_run=True)
    assert sorted((c.mode, c.status, c.count) for c in counted) == [
        (Mode.GUEST, SessionStatus.COMPLETED, 1), (Mode.PREVIEW, SessionStatus.ACTIVE, 1),
    ]  # fmt: skip
    assert (await service.get_session(SYSTEM, catalog.project_id, old_preview.id)).version == 1

    deleted = await service.purge_sessions(SYSTEM, timedelta(days=90), mode=Mode.PREVIEW)
    assert [(c.project_id, c.mode, c.count) for c in deleted] == [
        (catalog.project_id, Mode.PREVIEW, 1)
    ]
    with pytest.raises(NotFoundError):
        await service.get_session(SYSTEM, catalog.project_id, old_preview.id)
    assert (await service.get_session(SYSTEM, catalog.project_id, old_guest.id)).version == 2
    assert (await service.get_session(SYSTEM, catalog.project_id, recent.id)).version == 1
    with pytest.raises(NotFoundError):  # the writer forgot it too
        await advance(service, old_preview, 1)


async def test_purge_goes_in_batches(
    runtime: SessionRuntime, catalog: Catalog, new_session: NewSession, clock: ManualClock
) -> None:
    service = runtime.service
    for _ in range(25):
        await new_session()
    clock.advance(timedelta(days=2))
    runtime.store.purge_batch = 10  # type: ignore[attr-defined]

    deleted = await service.purge_sessions(SYSTEM, timedelta(days=1))

    assert sum(c.count for c in deleted) == 25
    assert (await service.list_sessions(SYSTEM, catalog.project_id)).items == []


async def test_purge_is_for_operators(service: SessionService, callers: Callers) -> None:
    with pytest.raises(PermissionDeniedError):
        await service.purge_sessions(await callers.owner(), timedelta(days=1))
