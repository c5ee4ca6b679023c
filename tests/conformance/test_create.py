"""Creating a session: its initial state, the catalog checks and input validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    ConfigSource,
    CreateSessionInput,
    Mode,
    NotFoundError,
    SessionRuntime,
    SessionService,
    SessionStatus,
    ValidationError,
)

from ..factories import Callers, Catalog, ManualClock, StoreFactory

URL_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{22,}$")


def error_paths(error: ValidationError) -> list[str]:
    return [problem["path"] for problem in error.details]


async def count_sessions(service: SessionService, project_id: str) -> int:
    return len((await service.list_sessions(SYSTEM, project_id, {"limit": 500})).items)


async def test_a_new_session_starts_active_at_step_zero(
    service: SessionService, catalog: Catalog, clock: ManualClock
) -> None:
    moment = clock.now

    result = await service.create_session(SYSTEM, catalog.session_input())

    session = result.session
    assert result.session_id == session.id
    assert session.project_id == catalog.project_id
    assert session.event_id == catalog.event_id
    assert session.experience_id == catalog.experience_id
    assert session.mode is Mode.PREVIEW
    assert session.config_source is ConfigSource.DRAFT
    assert session.status is SessionStatus.ACTIVE
    assert session.current_step_index == 0
    assert session.inputs == {}
    assert session.outputs == {}
    assert session.version == 1
    assert session.created_at == session.updated_at == moment
    assert session.completed_at is None
    assert session.end_reason is None
    assert session.created_by == "system:system"


async def test_the_created_session_is_what_is_stored(
    service: SessionService, catalog: Catalog
) -> None:
    result = await service.create_session(SYSTEM, catalog.guest_input())

    stored = await service.get_session(SYSTEM, catalog.project_id, result.session_id)

    assert stored == result.session
    assert stored.to_json() == result.session.to_json()


async def test_timestamps_are_server_time_in_utc(
    store_factory: StoreFactory, catalog: Catalog, service: SessionService
) -> None:
    # A runtime of its own, on the real clock, over the same database.
    async with SessionRuntime(store_factory()) as runtime:
        before = datetime.now(UTC)
        result = await runtime.service.create_session(SYSTEM, catalog.session_input())
        after = datetime.now(UTC)

    session = result.session
    assert session.created_at.utcoffset() == timedelta(0)
    assert before <= session.created_at <= after
    assert session.created_at == session.updated_at
    document = session.to_json()
    assert document["createdAt"].endswith("Z")
    assert document["createdAt"] == document["updatedAt"]


async def test_created_by_names_the_caller(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    editor = await callers.editor()
    guest = await callers.guest()

    by_editor = await service.create_session(editor, catalog.session_input())
    by_guest = await service.create_session(guest, catalog.guest_input())

    assert by_editor.session.created_by == editor.created_by
    assert by_editor.session.created_by.startswith("user:")
    assert by_guest.session.created_by == guest.created_by
    assert by_guest.session.created_by.startswith("guest:")


async def test_ids_are_unguessable_and_unique(service: SessionService, catalog: Catalog) -> None:
    ids = [
        (await service.create_session(SYSTEM, catalog.session_input())).session_id
        for _ in range(60)
    ]

    assert len(set(ids)) == len(ids)
    for session_id in ids:
        assert URL_SAFE_ID.match(session_id), session_id


@pytest.mark.parametrize(
    "shape",
    ["camelCase", "snake_case", "model"],
)
async def test_the_input_may_be_given_in_any_spelling(
    service: SessionService, catalog: Catalog, shape: str
) -> None:
    camel = catalog.guest_input()
    data: Any = {
        "camelCase": camel,
        "snake_case": {
            "project_id": catalog.project_id,
            "event_id": catalog.event_id,
            "experience_id": catalog.experience_id,
            "mode": "guest",
            "config_source": "published",
        },
        "model": CreateSessionInput.model_validate(camel),
    }[shape]

    session = (await service.create_session(SYSTEM, data)).session

    assert session.mode is Mode.GUEST
    assert session.config_source is ConfigSource.PUBLISHED


# -- the catalog ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "resource"),
    [("projectId", "project"), ("eventId", "event"), ("experienceId", "experience")],
)
async def test_a_missing_catalog_record_is_not_found(
    service: SessionService, catalog: Catalog, field: str, resource: str
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await service.create_session(SYSTEM, catalog.session_input(**{field: "missing"}))

    assert caught.value.code == "NOT_FOUND"
    assert caught.value.details["resource"] == resource
    assert caught.value.details["id"] == "missing"
    assert await count_sessions(service, catalog.project_id) == 0


async def test_the_project_is_checked_first(service: SessionService, catalog: Catalog) -> None:
    data = catalog.session_input(projectId="nope", eventId="nope", experienceId="nope")
    with pytest.raises(NotFoundError) as caught:
        await service.create_session(SYSTEM, data)
    assert caught.value.details["resource"] == "project"


async def test_an_event_of_another_project_is_not_found(
    service: SessionService, catalog: Catalog
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await service.create_session(SYSTEM, catalog.session_input(eventId=catalog.other_event_id))
    assert caught.value.details["resource"] == "event"
    assert await count_sessions(service, catalog.project_id) == 0


async def test_an_experience_of_another_project_is_not_found(
    service: SessionService, catalog: Catalog
) -> None:
    data = catalog.session_input(experienceId=catalog.other_experience_id)
    with pytest.raises(NotFoundError) as caught:
        await service.create_session(SYSTEM, data)
    assert caught.value.details["resource"] == "experience"


async def test_every_pairing_within_the_project_is_accepted(
    service: SessionService, catalog: Catalog
) -> None:
    for event_id in (catalog.event_id, catalog.second_event_id):
        for experience_id in (catalog.experience_id, catalog.second_experience_id):
            data = catalog.session_input(eventId=event_id, experienceId=experience_id)
            session = (await service.create_session(SYSTEM, data)).session
            assert (session.event_id, session.experience_id) == (event_id, experience_id)
    assert await count_sessions(service, catalog.project_id) == 4


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"mode": "live"}, "mode"),
        ({"mode": None}, "mode"),
        ({"configSource": "latest"}, "configSource"),
        ({"projectId": ""}, "projectId"),
        ({"eventId": ""}, "eventId"),
        ({"experienceId": ""}, "experienceId"),
        ({"eventId": 42}, "eventId"),
        ({"experienceId": ["x"]}, "experienceId"),
        ({"projectId": "p" * 500}, "projectId"),
        ({"status": "completed"}, "status"),
        ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt"),
        ({"version": 7}, "version"),
        ({"sessionId": "chosen-by-caller"}, "sessionId"),
    ],
)
async def test_bad_input_is_a_validation_error_with_its_path(
    service: SessionService, catalog: Catalog, overrides: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await service.create_session(SYSTEM, catalog.session_input(**overrides))

    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.http_status == 422
    assert path in error_paths(caught.value)
    assert await count_sessions(service, catalog.project_id) == 0


async def test_every_problem_is_listed(service: SessionService, catalog: Catalog) -> None:
    data = catalog.session_input(mode="live", configSource="latest", eventId="")
    with pytest.raises(ValidationError) as caught:
        await service.create_session(SYSTEM, data)
    assert set(error_paths(caught.value)) == {"mode", "configSource", "eventId"}


@pytest.mark.parametrize("field", ["projectId", "eventId", "experienceId", "mode", "configSource"])
async def test_every_field_is_required(
    service: SessionService, catalog: Catalog, field: str
) -> None:
    data = catalog.session_input()
    del data[field]
    with pytest.raises(ValidationError) as caught:
        await service.create_session(SYSTEM, data)
    assert error_paths(caught.value) == [field]


@pytest.mark.parametrize("data", [None, [], "session", 7])
async def test_the_input_must_be_an_object(
    service: SessionService, catalog: Catalog, data: Any
) -> None:
    with pytest.raises(ValidationError) as caught:
        await service.create_session(SYSTEM, data)
    assert caught.value.details
    assert await count_sessions(service, catalog.project_id) == 0
