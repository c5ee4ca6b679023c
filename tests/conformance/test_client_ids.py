"""Client-chosen session ids on every store: taken as given, found again by their creator,
refused to anyone else."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from session_runtime import (
    SYSTEM,
    FailedPreconditionError,
    SessionService,
    ValidationError,
)

from ..factories import Callers, Catalog


def chosen_id() -> str:
    while True:
        candidate = secrets.token_urlsafe(16)
        if not candidate.startswith("-"):
            return candidate


async def test_a_create_takes_the_id_it_was_given(
    service: SessionService, catalog: Catalog
) -> None:
    session_id = chosen_id()
    created = await service.create_session(SYSTEM, catalog.session_input(sessionId=session_id))
    assert created.is_new
    assert created.session_id == created.session.id == session_id
    stored = await service.get_session(SYSTEM, catalog.project_id, session_id)
    assert stored == created.session


async def test_the_same_creator_repeating_the_create_gets_the_session_back(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    kiosk = await callers.guest()
    data = catalog.guest_input(sessionId=chosen_id())
    first = await service.create_session(kiosk, data)
    await service.update_session_progress(
        kiosk, catalog.project_id, {"sessionId": first.session_id, "currentStepIndex": 2}
    )
    again = await service.create_session(kiosk, data)
    assert not again.is_new
    assert again.session_id == first.session_id
    # The session as it is now: the create wrote nothing.
    assert (again.session.version, again.session.current_step_index) == (2, 2)
    page = await service.list_sessions(kiosk, catalog.project_id)
    assert [session.id for session in page.items] == [first.session_id]


async def test_anything_else_with_a_taken_id_is_refused_without_revealing_it(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    kiosk, other_kiosk = await callers.guest(), await callers.guest()
    session_id = chosen_id()
    await service.create_session(kiosk, catalog.guest_input(sessionId=session_id))
    attempts = [
        (other_kiosk, catalog.guest_input(sessionId=session_id)),
        (kiosk, catalog.guest_input(sessionId=session_id, eventId=catalog.second_event_id)),
        (SYSTEM, catalog.guest_input(sessionId=session_id)),
    ]
    for principal, data in attempts:
        with pytest.raises(FailedPreconditionError) as refused:
            await service.create_session(principal, data)
        assert "already taken" in refused.value.message
        assert refused.value.details == {"sessionId": session_id}
    # Another project cannot take it either: ids are unique everywhere.
    owner = await callers.outsider()
    with pytest.raises(FailedPreconditionError):
        await service.create_session(
            owner,
            {
                "projectId": catalog.other_project_id,
                "eventId": catalog.other_event_id,
                "experienceId": catalog.other_experience_id,
                "mode": "guest",
                "configSource": "published",
                "sessionId": session_id,
            },
        )
    stored = await service.get_session(SYSTEM, catalog.project_id, session_id)
    assert (stored.version, stored.event_id) == (1, catalog.event_id)


async def test_repeated_creates_at_once_make_one_session(
    service: SessionService, catalog: Catalog
) -> None:
    data = catalog.session_input(sessionId=chosen_id())
    results = await asyncio.gather(*(service.create_session(SYSTEM, data) for _ in range(8)))
    assert sum(result.is_new for result in results) == 1
    assert {result.session_id for result in results} == {data["sessionId"]}
    assert {result.session.version for result in results} == {1}


@pytest.mark.parametrize(
    "session_id",
    [
        "a" * 21,  # fewer than 128 bits
        "a" * 129,
        "-" + "a" * 24,
        "has/slash-aaaaaaaaaaaaaaaa",
        "has.dot-aaaaaaaaaaaaaaaaaa",
        "ünicode-aaaaaaaaaaaaaaaaaa",
        "space aaaaaaaaaaaaaaaaaaaa",
        12345678901234567890123,
    ],
    ids=repr,
)
async def test_an_id_that_is_not_url_safe_or_too_short_is_refused(
    service: SessionService, catalog: Catalog, session_id: object
) -> None:
    with pytest.raises(ValidationError) as refused:
        await service.create_session(SYSTEM, catalog.session_input(sessionId=session_id))
    assert refused.value.details[0]["path"] == "sessionId"
    assert (await service.list_sessions(SYSTEM, catalog.project_id)).items == []
