"""Live subscriptions with the async client, against a real server."""

from __future__ import annotations

import asyncio

import pytest

from session_runtime import Session, SessionStatus
from session_runtime.client import (
    AsyncLiveSession,
    AsyncProjectClient,
    AsyncSessionRuntimeClient,
    NotFoundError,
    UnauthenticatedError,
)

from ..support.waiting import wait_until_async
from .conftest import FAST_RECONNECT, AsyncClientFactory, ServerFactory, World, seed

pytestmark = pytest.mark.timeout(20)


async def create(project: AsyncProjectClient, world: World) -> Session:
    created = await project.create_session(
        event_id=world.event_id,
        experience_id=world.experience_id,
        mode="preview",
        config_source="draft",
    )
    return created.session


async def collect(live: AsyncLiveSession) -> list[Session]:
    return [session async for session in live]


async def test_snapshot_then_changes_then_end(aconnect: AsyncClientFactory, world: World) -> None:
    project = aconnect().project(world.project_id)
    session = await create(project, world)
    async with project.subscribe_session(session.id) as live:
        assert (live.session, live.is_loading, live.error) == (None, True, None)
        assert await anext(live) == session
        assert not live.is_loading

        async def write() -> None:
            await project.update_session_progress(session.id, current_step_index=1)
            # Once the reader holds version 2, the completion is a change of its own.
            await wait_until_async(lambda: live.session is not None and live.session.version == 2)
            await project.complete_session(session.id)

        writer = asyncio.create_task(write())
        seen = await asyncio.wait_for(collect(live), timeout=5)
        await writer
        assert [(s.version, s.status) for s in seen] == [
            (2, SessionStatus.ACTIVE),
            (3, SessionStatus.COMPLETED),
        ]
        assert live.is_ended
        assert live.session == seen[-1]


async def test_none_disables_the_subscription(aconnect: AsyncClientFactory, world: World) -> None:
    async with aconnect().project(world.project_id).subscribe_session(None) as live:
        assert (live.session, live.is_loading, live.error, live.is_enabled) == (
            None,
            False,
            None,
            False,
        )
        assert await collect(live) == []


async def test_final_errors_stop_it(aconnect: AsyncClientFactory, world: World) -> None:
    project = aconnect().project(world.project_id)
    async with project.subscribe_session("no-such-session") as live:
        with pytest.raises(NotFoundError):
            await anext(live)
        assert isinstance(live.error, NotFoundError) and not live.is_loading
        assert live.reconnects == 0
    session = await create(project, world)
    stranger = aconnect("not-a-token").project(world.project_id)
    async with stranger.subscribe_session(session.id) as live:
        with pytest.raises(UnauthenticatedError):
            await anext(live)
        assert isinstance(live.error, UnauthenticatedError)


async def test_aclose_stops_the_iteration(aconnect: AsyncClientFactory, world: World) -> None:
    project = aconnect().project(world.project_id)
    session = await create(project, world)
    live = project.subscribe_session(session.id)
    assert (await anext(live)).version == 1
    await live.aclose()
    await live.aclose()
    assert live.is_closed and not live.is_loading
    await project.update_session_progress(session.id, current_step_index=1)
    assert await collect(live) == []


async def test_aclose_from_another_task_stops_the_reader(
    aconnect: AsyncClientFactory, world: World
) -> None:
    project = aconnect().project(world.project_id)
    session = await create(project, world)
    live = project.subscribe_session(session.id)
    reader = asyncio.create_task(collect(live))
    await wait_until_async(lambda: live.session is not None)
    await live.aclose()
    # The reader notices at the stream's next heartbeat (every 0.5 s here).
    assert await asyncio.wait_for(reader, timeout=3) == [session]
    assert live.is_closed


async def test_cancelling_the_reader_lets_go_of_the_stream(
    aconnect: AsyncClientFactory, world: World
) -> None:
    project = aconnect().project(world.project_id)
    session = await create(project, world)
    live = project.subscribe_session(session.id)
    reader = asyncio.create_task(collect(live))
    assert await wait_until_async(lambda: live.session) == session
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await live.aclose()
    assert live.is_closed


async def test_it_survives_a_server_restart(start_server: ServerFactory) -> None:
    first = start_server()
    world = first.call(seed(first.service))
    async with AsyncSessionRuntimeClient(
        first.base_url, world.editor, reconnect=FAST_RECONNECT
    ) as client:
        project = client.project(world.project_id)
        session = await create(project, world)
        async with project.subscribe_session(session.id) as live:
            assert (await anext(live)).version == 1
            reader = asyncio.create_task(anext(live))
            await asyncio.to_thread(first.stop)
            # The reader meets the closed port, and keeps trying.
            await wait_until_async(lambda: live.error is not None)
            assert not reader.done()
            await asyncio.to_thread(
                start_server, database_path=first.database_path, port=first.port
            )
            await project.update_session_progress(session.id, current_step_index=3)
            snapshot = await asyncio.wait_for(reader, timeout=5)
            assert (snapshot.version, snapshot.current_step_index) == (2, 3)
            assert live.reconnects >= 1 and live.error is None
            await project.complete_session(session.id)
            assert [s.status for s in await collect(live)] == [SessionStatus.COMPLETED]
