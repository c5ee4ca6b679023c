"""The blocking client against a real server: every operation, and every error as its class."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from session_runtime import ConfigSource, Mode, Session, SessionStatus
from session_runtime.client import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ProjectClient,
    ResourceExhaustedError,
    SessionRuntimeClient,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)

from .conftest import ClientFactory, LiveServer, ServerFactory, World, seed

pytestmark = pytest.mark.timeout(20)

PORTRAIT = {"mediaAssetId": "m1", "url": "https://cdn.example/m1.jpg"}


def create(project: ProjectClient, world: World, mode: str = "preview") -> Session:
    created = project.create_session(
        event_id=world.event_id,
        experience_id=world.experience_id,
        mode=mode,
        config_source="published" if mode == "guest" else "draft",
    )
    assert created.session_id == created.session.id
    return created.session


def test_create_then_get_returns_the_same_session(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    created = project.create_session(
        event_id=world.event_id,
        experience_id=world.experience_id,
        mode=Mode.PREVIEW,
        config_source=ConfigSource.DRAFT,
    )
    session = created.session
    assert session.status is SessionStatus.ACTIVE
    assert (session.current_step_index, session.version) == (0, 1)
    assert session.created_by == "user:editor"
    assert session.created_at == session.updated_at
    assert project.get_session(created.session_id) == session


def test_progress_merges_and_bumps_the_version(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    project.update_session_progress(session.id, inputs={"answers": {"q1": "yes"}})
    updated = project.update_session_progress(
        session.id,
        current_step_index=2,
        inputs={"answers": {"q2": "no"}},
        outputs={"portrait": PORTRAIT},
    )
    assert updated.version == 3
    assert updated.current_step_index == 2
    assert updated.inputs == {"answers": {"q1": "yes", "q2": "no"}}
    assert updated.outputs == {"portrait": PORTRAIT}
    assert project.get_session(session.id) == updated


def test_expected_version_sends_if_match(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    updated = project.update_session_progress(session.id, current_step_index=1, expected_version=1)
    assert updated.version == 2
    with pytest.raises(FailedPreconditionError) as caught:
        project.update_session_progress(session.id, current_step_index=5, expected_version=1)
    assert caught.value.details == {"version": 2, "expected": 1}
    assert project.get_session(session.id).current_step_index == 1


def test_complete_is_final_and_safe_to_repeat(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    completed = project.complete_session(session.id)
    assert completed.status is SessionStatus.COMPLETED
    assert completed.completed_at == completed.updated_at
    assert project.complete_session(session.id) == completed
    with pytest.raises(FailedPreconditionError) as caught:
        project.update_session_progress(session.id, current_step_index=1)
    assert caught.value.details == {"status": "completed"}
    with pytest.raises(FailedPreconditionError):
        project.abandon_session(session.id)


def test_abandon_and_fail_keep_their_reason(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    abandoned = project.abandon_session(create(project, world).id, "the guest walked away")
    assert (abandoned.status, abandoned.end_reason) == (
        SessionStatus.ABANDONED,
        "the guest walked away",
    )
    assert project.abandon_session(create(project, world).id).end_reason is None
    failed = project.fail_session(create(project, world).id, "camera lost")
    assert (failed.status, failed.end_reason) == (SessionStatus.ERROR, "camera lost")
    assert failed.completed_at is None


def test_list_filters_and_pages(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    first, second, third = (create(project, world) for _ in range(3))
    project.complete_session(second.id)

    page = project.list_sessions(limit=2)
    assert [s.id for s in page.items] == [third.id, second.id]
    assert page.next_cursor is not None
    rest = project.list_sessions(limit=2, cursor=page.next_cursor)
    assert [s.id for s in rest.items] == [first.id]
    assert rest.next_cursor is None

    completed = project.list_sessions(status=SessionStatus.COMPLETED)
    assert [s.id for s in completed.items] == [second.id]
    by_everything = project.list_sessions(
        event_id=world.event_id, experience_id=world.experience_id, status="active", mode="preview"
    )
    assert {s.id for s in by_everything.items} == {first.id, third.id}
    assert project.list_sessions(mode="guest").items == []


def test_a_guest_sees_only_its_own_sessions(connect: ClientFactory, world: World) -> None:
    editor = connect().project(world.project_id)
    guest = connect(world.guest).project(world.project_id)
    create(editor, world)
    mine = create(guest, world, mode="guest")
    assert [s.id for s in guest.list_sessions().items] == [mine.id]
    assert guest.update_session_progress(mine.id, inputs={"name": "Ada"}).inputs == {"name": "Ada"}


# -- errors: the server's classes, with message and details -----------------------------------


def test_validation_error_carries_field_paths(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    with pytest.raises(ValidationError) as caught:
        project.create_session(
            event_id=world.event_id,
            experience_id=world.experience_id,
            mode="rehearsal",
            config_source="draft",
        )
    assert caught.value.code == "VALIDATION_ERROR"
    assert [item["path"] for item in caught.value.details] == ["mode"]
    session = create(project, world)
    with pytest.raises(ValidationError):
        project.update_session_progress(session.id, current_step_index=-1)
    with pytest.raises(ValidationError):
        project.update_session_progress(
            session.id, outputs={"portrait": {"mediaAssetId": "m1", "url": "ftp://x/y"}}
        )
    with pytest.raises(ValidationError):
        project.list_sessions(limit=0)
    with pytest.raises(ValidationError) as caught:  # refused before any request
        project.update_session_progress(session.id, inputs={"tags": {"a", "b"}})
    assert caught.value.details[0]["path"] == "$"


def test_an_empty_id_is_refused_before_any_request(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    with pytest.raises(ValidationError) as caught:
        project.get_session("")
    assert caught.value.details == [{"path": "sessionId", "message": "must not be empty"}]
    with pytest.raises(ValidationError):
        connect().project("").list_sessions()
    with pytest.raises(ValidationError) as caught:
        project.complete_session("s1/abandon")
    assert caught.value.details == [{"path": "sessionId", "message": "must not contain '/'"}]


def test_unauthenticated(connect: ClientFactory, world: World) -> None:
    project = connect("not-a-token").project(world.project_id)
    with pytest.raises(UnauthenticatedError) as caught:
        project.list_sessions()
    assert caught.value.http_status == 401
    assert "unknown" in caught.value.message


def test_permission_denied(connect: ClientFactory, world: World) -> None:
    editor = connect().project(world.project_id)
    session = create(editor, world)
    with pytest.raises(PermissionDeniedError):
        connect(world.viewer).project(world.project_id).complete_session(session.id)
    with pytest.raises(PermissionDeniedError):
        connect(world.stranger).project(world.project_id).get_session(session.id)
    with pytest.raises(PermissionDeniedError):
        create(connect(world.guest).project(world.project_id), world, mode="preview")


def test_not_found_names_the_resource(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    with pytest.raises(NotFoundError) as caught:
        project.get_session("no-such-session")
    assert caught.value.details == {"resource": "session", "id": "no-such-session"}
    with pytest.raises(NotFoundError) as caught:
        project.create_session(
            event_id="no-such-event",
            experience_id=world.experience_id,
            mode="preview",
            config_source="draft",
        )
    assert caught.value.details["resource"] == "event"
    # Characters that mean something in a URL stay inside their segment.
    with pytest.raises(NotFoundError) as caught:
        project.complete_session("a?b#c%d")
    assert caught.value.details["id"] == "a?b#c%d"


def test_an_oversized_body_is_resource_exhausted(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    small = start_server(database_path=tmp_path / "small.db", max_body_bytes=1024)
    world = small.call(seed(small.service))
    with SessionRuntimeClient(small.base_url, world.editor) as client:
        project = client.project(world.project_id)
        session = create(project, world)
        with pytest.raises(ResourceExhaustedError) as caught:
            project.update_session_progress(session.id, inputs={"notes": "x" * 4096})
    assert caught.value.http_status == 413
    assert caught.value.details == {"limit": 1024}
    assert caught.value.retry_after is None


def test_a_stopped_server_is_unavailable(server: LiveServer, world: World) -> None:
    with SessionRuntimeClient(server.base_url, world.editor, timeout=2.0) as client:
        project = client.project(world.project_id)
        project.list_sessions()
        server.stop()
        with pytest.raises(UnavailableError) as caught:
            project.list_sessions()
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert caught.value.details["method"] == "GET"
    assert world.editor not in str(caught.value) + repr(caught.value.details)


def test_nothing_listening_is_unavailable() -> None:
    # Port 9 (discard) on the loopback: nothing listens there on a test machine.
    with SessionRuntimeClient("http://127.0.0.1:9", "token", timeout=2.0) as client:
        with pytest.raises(UnavailableError) as caught:
            client.project("p1").get_session("s1")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_the_client_is_a_context_manager(server: LiveServer, world: World) -> None:
    with SessionRuntimeClient(server.base_url, world.editor) as client:
        assert not client.is_closed
        assert repr(client) == f"<SessionRuntimeClient {server.base_url}>"
        assert world.editor not in repr(client.project(world.project_id))
    assert client.is_closed
