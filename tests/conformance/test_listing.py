"""Listing a project's sessions: filters, newest first, and keyset pages that cover everything
exactly once."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    PermissionDeniedError,
    Principal,
    Session,
    SessionService,
    ValidationError,
)

from ..factories import Callers, Catalog, ManualClock, NewSession


async def every_page(
    service: SessionService,
    project_id: str,
    principal: Principal = SYSTEM,
    **filters: Any,
) -> list[list[Session]]:
    pages: list[list[Session]] = []
    cursor: str | None = None
    while True:
        data = {**filters, **({"cursor": cursor} if cursor else {})}
        page = await service.list_sessions(principal, project_id, data)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        assert page.items, "a page with a cursor after it is never empty"
        cursor = page.next_cursor


def ids(sessions: list[Session]) -> list[str]:
    return [session.id for session in sessions]


def newest_first(sessions: list[Session]) -> list[str]:
    return ids(sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True))


async def test_newest_first(service: SessionService, new_session: NewSession) -> None:
    created = [await new_session() for _ in range(5)]

    page = await service.list_sessions(SYSTEM, created[0].project_id)

    assert ids(page.items) == ids(created[::-1])
    assert page.next_cursor is None


async def test_an_empty_project_lists_nothing(service: SessionService, catalog: Catalog) -> None:
    page = await service.list_sessions(SYSTEM, catalog.project_id)
    assert page.items == []
    assert page.next_cursor is None


async def test_listed_sessions_are_whole(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()
    updated = await service.update_session_progress(
        SYSTEM,
        session.project_id,
        {"sessionId": session.id, "currentStepIndex": 2, "inputs": {"a": [1, {"b": None}]}},
    )

    page = await service.list_sessions(SYSTEM, session.project_id)

    assert page.items == [updated]


async def test_only_the_projects_own_sessions(
    service: SessionService, catalog: Catalog, new_session: NewSession
) -> None:
    mine = await new_session()
    await service.create_session(
        SYSTEM,
        catalog.session_input(
            projectId=catalog.other_project_id,
            eventId=catalog.other_event_id,
            experienceId=catalog.other_experience_id,
        ),
    )

    page = await service.list_sessions(SYSTEM, catalog.project_id)

    assert ids(page.items) == [mine.id]


@pytest.fixture
async def variety(
    service: SessionService, catalog: Catalog, new_session: NewSession
) -> list[Session]:
    """A session for every event, experience, mode and status."""
    sessions: list[Session] = []
    for event_id in (catalog.event_id, catalog.second_event_id):
        for experience_id in (catalog.experience_id, catalog.second_experience_id):
            for mode in ("preview", "guest"):
                for status in ("active", "completed", "abandoned", "error"):
                    session = await new_session(
                        eventId=event_id,
                        experienceId=experience_id,
                        mode=mode,
                        configSource="published",
                    )
                    project_id, ref = session.project_id, {"sessionId": session.id, "reason": "x"}
                    if status == "completed":
                        session = await service.complete_session(SYSTEM, project_id, session.id)
                    elif status == "abandoned":
                        session = await service.abandon_session(SYSTEM, project_id, ref)
                    elif status == "error":
                        session = await service.fail_session(SYSTEM, project_id, ref)
                    sessions.append(session)
    return sessions


@pytest.mark.parametrize(
    ("filter_name", "attribute"),
    [
        ("eventId", "event_id"),
        ("experienceId", "experience_id"),
        ("status", "status"),
        ("mode", "mode"),
    ],
)
async def test_each_filter(
    service: SessionService, variety: list[Session], filter_name: str, attribute: str
) -> None:
    project_id = variety[0].project_id
    values = {str(getattr(session, attribute)) for session in variety}
    assert len(values) >= 2

    for value in values:
        page = await service.list_sessions(SYSTEM, project_id, {filter_name: value})
        expected = [s for s in variety if str(getattr(s, attribute)) == value]
        assert ids(page.items) == newest_first(expected)


async def test_filters_combine(
    service: SessionService, catalog: Catalog, variety: list[Session]
) -> None:
    filters = {"eventId": catalog.second_event_id, "mode": "guest", "status": "active"}

    page = await service.list_sessions(SYSTEM, catalog.project_id, filters)

    expected = [
        s
        for s in variety
        if s.event_id == catalog.second_event_id
        and s.mode.value == "guest"
        and s.status.value == "active"
    ]
    assert expected
    assert ids(page.items) == newest_first(expected)


async def test_a_filter_that_matches_nothing(
    service: SessionService, catalog: Catalog, variety: list[Session]
) -> None:
    page = await service.list_sessions(SYSTEM, catalog.project_id, {"eventId": "no-such-event"})
    assert page.items == []


@pytest.mark.parametrize(
    "filters",
    [{"status": "finished"}, {"mode": "live"}, {"eventId": ""}, {"limit": 0}, {"limit": 501}],
)
async def test_bad_filters_are_validation_errors(
    service: SessionService, catalog: Catalog, filters: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        await service.list_sessions(SYSTEM, catalog.project_id, filters)
    assert [problem["path"] for problem in caught.value.details] == list(filters)


# -- pages ------------------------------------------------------------------------------------


async def test_pages_cover_everything_exactly_once(
    service: SessionService, new_session: NewSession
) -> None:
    created = [await new_session() for _ in range(23)]

    pages = await every_page(service, created[0].project_id, limit=5)

    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    listed = [session for page in pages for session in page]
    assert ids(listed) == ids(created[::-1])


async def test_a_last_page_that_is_full_has_no_cursor(
    service: SessionService, new_session: NewSession
) -> None:
    created = [await new_session() for _ in range(8)]

    pages = await every_page(service, created[0].project_id, limit=4)

    assert [len(page) for page in pages] == [4, 4]


async def test_pages_hold_when_creation_times_tie(
    service: SessionService, new_session: NewSession, clock: ManualClock
) -> None:
    clock.freeze()
    created = [await new_session() for _ in range(17)]
    assert len({session.created_at for session in created}) == 1

    pages = await every_page(service, created[0].project_id, limit=3)

    listed = [session for page in pages for session in page]
    assert len(listed) == len(set(ids(listed))) == 17
    assert ids(listed) == newest_first(created)


async def test_pages_hold_across_groups_of_ties(
    service: SessionService, new_session: NewSession, clock: ManualClock
) -> None:
    clock.freeze()
    created: list[Session] = []
    for group_size in (4, 1, 6, 3, 5):
        clock.advance(timedelta(seconds=1))
        created.extend([await new_session() for _ in range(group_size)])

    for limit in (1, 2, 4, 7, 19, 50):
        pages = await every_page(service, created[0].project_id, limit=limit)
        listed = [session for page in pages for session in page]
        assert ids(listed) == newest_first(created), limit


async def test_pages_stay_exact_while_sessions_are_created(
    service: SessionService, new_session: NewSession
) -> None:
    created = [await new_session() for _ in range(10)]
    project_id = created[0].project_id

    first = await service.list_sessions(SYSTEM, project_id, {"limit": 4})
    newer = [await new_session() for _ in range(3)]
    rest = await every_page(service, project_id, limit=4, cursor=first.next_cursor)

    listed = first.items + [session for page in rest for session in page]
    assert ids(listed) == ids(created[::-1])
    assert not set(ids(newer)) & set(ids(listed))


async def test_pages_combine_with_filters(
    service: SessionService, catalog: Catalog, new_session: NewSession
) -> None:
    wanted = []
    for index in range(12):
        event_id = catalog.event_id if index % 3 else catalog.second_event_id
        session = await new_session(eventId=event_id)
        if event_id == catalog.event_id:
            wanted.append(session)

    pages = await every_page(service, catalog.project_id, limit=3, eventId=catalog.event_id)

    assert ids([s for page in pages for s in page]) == ids(wanted[::-1])


def encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not base64!!!",
        "bm9jb2xvbg",
        encoded(b"no-colon-here"),
        encoded(b"12:"),
        encoded(b"twelve:abc"),
        encoded(b"99999999999999999999999:abc"),
        encoded(b"\xff\xfe:abc"),
        "x" * 600,
    ],
)
async def test_a_bad_cursor_is_a_validation_error(
    service: SessionService, catalog: Catalog, cursor: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await service.list_sessions(SYSTEM, catalog.project_id, {"cursor": cursor})
    assert caught.value.code == "VALIDATION_ERROR"
    assert [problem["path"] for problem in caught.value.details] == ["cursor"]


# -- who lists what ---------------------------------------------------------------------------


async def test_guests_list_only_their_own(
    service: SessionService, catalog: Catalog, callers: Callers, new_session: NewSession
) -> None:
    guest, other_guest = await callers.guest(), await callers.guest()
    mine = [await new_session(guest, **catalog.guest_input()) for _ in range(5)]
    await new_session(other_guest, **catalog.guest_input())
    await new_session()

    pages = await every_page(service, catalog.project_id, guest, limit=2)

    assert ids([s for page in pages for s in page]) == ids(mine[::-1])


async def test_guests_filters_apply_within_their_own(
    service: SessionService, catalog: Catalog, callers: Callers, new_session: NewSession
) -> None:
    guest = await callers.guest()
    mine = await new_session(guest, **catalog.guest_input())
    await new_session(guest, **catalog.guest_input(eventId=catalog.second_event_id))
    await new_session(eventId=catalog.event_id)

    page = await service.list_sessions(guest, catalog.project_id, {"eventId": catalog.event_id})

    assert ids(page.items) == [mine.id]


async def test_members_list_everything(
    service: SessionService, catalog: Catalog, callers: Callers, new_session: NewSession
) -> None:
    guest = await callers.guest()
    by_guest = await new_session(guest, **catalog.guest_input())
    by_system = await new_session()

    for member in (await callers.viewer(), await callers.editor(), await callers.owner()):
        page = await service.list_sessions(member, catalog.project_id)
        assert ids(page.items) == [by_system.id, by_guest.id]


async def test_another_project_cannot_list(
    service: SessionService, catalog: Catalog, callers: Callers, new_session: NewSession
) -> None:
    await new_session()
    for outsider in (await callers.outsider(), await callers.outside_guest()):
        with pytest.raises(PermissionDeniedError):
            await service.list_sessions(outsider, catalog.project_id)
