"""The async client against a real server: every operation, and every error as its class."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from session_runtime import Session, SessionStatus
from session_runtime.client import (
    AsyncProjectClient,
    AsyncSessionRuntimeClient,
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)

from .conftest import AsyncClientFactory, LiveServer, ServerFactory, World, seed

pytestmark = pytest.mark.timeout(20)

PORTRAIT = {"mediaAssetId": "m1", "url": "https://cdn.example/m1.jpg"}


async def create(project: AsyncProjectClient, world: World, mode: str = "preview") -> Session:
    created = await project.create_session(
        event_id=world.event_id,
        experience_id=world.experience_id,
        mode=mode,
        config_source="published" if mode == "guest" else "draft",
    )
    assert created.session_id == created.session.id
    return created.session


async def test_every_operation(aconnect: AsyncClientFactory, world: World) -> None:
    project = aconnect().project(world.project_id)
    session = await create(project, world)
    assert await project.get_session(session.id) == session

    updated = await project.update_session_progress(
        session.id,
        current_step_index=1,
        inputs={"answers": {"q1": "yes"}},
        outputs={"portrait": PORTRAIT},
        expected_version=1,
    )
    assert (updated.version, updated.current_step_index) == (2, 1)
    assert (updated.inputs, updated.outputs) == ({"answers": {"q1": "yes"}}, {"portrait": PORTRAIT})

    completed = await project.complete_session(session.id)
    assert completed.status is SessionStatus.COMPLETED and completed.version == 3
    assert await project.complete_session(session.id) == completed

    abandoned = await project.abandon_session((await create(project, world)).id, "left")
    assert (abandoned.status, abandoned.end_reason) == (SessionStatus.ABANDONED, "left")
    failed = await project.fail_session((await create(project, world)).id, "camera lost")
    assert (failed.status, failed.end_reason) == (SessionStatus.ERROR, "camera lost")

    page = await project.list_sessions(limit=2)
    assert [s.id for s in page.items] == [failed.id, abandoned.id]
    rest = await project.list_sessions(limit=2, cursor=page.next_cursor)
    assert [s.id for s in rest.items] == [session.id] and rest.next_cursor is None
    only_completed = await project.list_sessions(
        event_id=world.event_id,
        experience_id=world.experience_id,
        status="completed",
        mode="preview",
    )
    assert [s.id for s in only_completed.items] == [session.id]


async def test_errors_are_the_servers_classes(aconnect: AsyncClientFactory, world: World) -> None:
    editor = aconnect().project(world.project_id)
    session = await create(editor, world)
    with pytest.raises(ValidationError) as validation:
        await editor.update_session_progress(session.id, current_step_index=-1)
    assert validation.value.details[0]["path"] == "currentStepIndex"
    with pytest.raises(UnauthenticatedError):
        await aconnect("not-a-token").project(world.project_id).get_session(session.id)
    with pytest.raises(PermissionDeniedError):
        await aconnect(world.viewer).project(world.project_id).fail_session(session.id, "no")
    with pytest.raises(NotFoundError) as not_found:
        await editor.abandon_session("no-such-session")
    assert not_found.value.details == {"resource": "session", "id": "no-such-session"}
    with pytest.raises(FailedPreconditionError) as precondition:
        await editor.update_session_progress(session.id, current_step_index=2, expected_version=7)
    assert precondition.value.details == {"version": 1, "expected": 7}
    await editor.complete_session(session.id)
    with pytest.raises(FailedPreconditionError):
        await editor.fail_session(session.id, "too late")


async def test_an_oversized_body_is_resource_exhausted(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    small = start_server(database_path=tmp_path / "small.db", max_body_bytes=1024)
    world = small.call(seed(small.service))
    async with AsyncSessionRuntimeClient(small.base_url, world.editor) as client:
        project = client.project(world.project_id)
        session = await create(project, world)
        with pytest.raises(ResourceExhaustedError) as caught:
            await project.update_session_progress(session.id, inputs={"notes": "x" * 4096})
    assert (caught.value.http_status, caught.value.details) == (413, {"limit": 1024})
    assert client.is_closed


async def test_a_stopped_server_is_unavailable(server: LiveServer, world: World) -> None:
    async with AsyncSessionRuntimeClient(server.base_url, world.editor, timeout=2.0) as client:
        project = client.project(world.project_id)
        await project.list_sessions()
        server.stop()
        with pytest.raises(UnavailableError) as caught:
            await project.list_sessions()
    assert isinstance(caught.value.__cause__, httpx.TransportError)
