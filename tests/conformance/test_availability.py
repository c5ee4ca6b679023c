"""A store that is closed answers ``UNAVAILABLE``; a store reopened has kept everything."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from session_runtime import SYSTEM, Guest, SessionRuntime, UnavailableError

from ..factories import Catalog, ManualClock, NewSession, StoreFactory


async def test_every_operation_on_a_closed_store_is_unavailable(
    runtime: SessionRuntime, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    service = runtime.service
    await runtime.close()
    project_id, session_id = catalog.project_id, session.id

    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: service.create_session(SYSTEM, catalog.session_input()),
        lambda: service.get_session(SYSTEM, project_id, session_id),
        lambda: service.list_sessions(SYSTEM, project_id),
        lambda: service.update_session_progress(SYSTEM, project_id, {"sessionId": session_id}),
        lambda: service.complete_session(SYSTEM, project_id, session_id),
        lambda: service.abandon_session(SYSTEM, project_id, session_id),
        lambda: service.fail_session(SYSTEM, project_id, {"sessionId": session_id, "reason": "x"}),
        lambda: service.subscribe_session(SYSTEM, project_id, session_id),
        lambda: service.create_project(SYSTEM, {"name": "Late"}),
        lambda: service.authenticate("srt_anything_at_all_here"),
    ]
    for operation in operations:
        with pytest.raises(UnavailableError) as caught:
            await operation()
        assert caught.value.code == "UNAVAILABLE"
    assert runtime.feed.subscriber_count == 0


async def test_reopening_keeps_every_session_as_written(
    store_factory: StoreFactory,
    runtime: SessionRuntime,
    catalog: Catalog,
    new_session: NewSession,
    clock: ManualClock,
) -> None:
    service = runtime.service
    active = await new_session()
    written = await service.update_session_progress(
        SYSTEM,
        catalog.project_id,
        {
            "sessionId": active.id,
            "currentStepIndex": 3,
            "inputs": {"name": "Ada", "nested": {"list": [1, 2.5, None, True]}},
            "outputs": {"photo": {"mediaAssetId": "m1", "url": "https://cdn.example.com/1.jpg"}},
        },
    )
    completed = await service.complete_session(SYSTEM, catalog.project_id, (await new_session()).id)
    failed = await service.fail_session(
        SYSTEM, catalog.project_id, {"sessionId": (await new_session()).id, "reason": "flash"}
    )
    record, secret = await service.create_guest_token(SYSTEM, catalog.project_id)
    await runtime.close()

    async with SessionRuntime(store_factory(), clock=clock) as reopened:
        again = reopened.service
        for session in (written, completed, failed):
            assert await again.get_session(SYSTEM, catalog.project_id, session.id) == session
        page = await again.list_sessions(SYSTEM, catalog.project_id)
        assert [s.id for s in page.items] == [failed.id, completed.id, written.id]
        principal = await again.authenticate(secret)
        assert principal == Guest(project_id=catalog.project_id, token_id=record.id)
        assert len(await again.list_events(SYSTEM, catalog.project_id)) == 2
        updated = await again.update_session_progress(
            SYSTEM, catalog.project_id, {"sessionId": written.id, "inputs": {"more": 1}}
        )
        assert updated.version == written.version + 1
        assert updated.inputs == {**written.inputs, "more": 1}
