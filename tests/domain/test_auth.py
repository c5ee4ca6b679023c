"""Who may do what, decided on principals and sessions alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from session_runtime import (
    SYSTEM,
    CreateSessionInput,
    Guest,
    Member,
    PermissionDeniedError,
    Role,
    Session,
    System,
)
from session_runtime.domain.auth import (
    authorize_create,
    authorize_project_admin,
    authorize_project_read,
    authorize_project_write,
    authorize_session_read,
    authorize_session_write,
)

MakeSession = Callable[..., Session]

OWNER = Member(project_id="p1", user="olga", role=Role.OWNER, token_id="t-owner")
EDITOR = Member(project_id="p1", user="ed", role=Role.EDITOR, token_id="t-editor")
VIEWER = Member(project_id="p1", user="vi", role=Role.VIEWER, token_id="t-viewer")
GUEST = Guest(project_id="p1", token_id="t-guest")
EVENT_GUEST = Guest(project_id="p1", token_id="t-kiosk", event_id="e1")
OTHER_GUEST = Guest(project_id="p1", token_id="t-other-guest")
OUTSIDER = Member(project_id="p2", user="mallory", role=Role.OWNER, token_id="t-outsider")
OUTSIDE_GUEST = Guest(project_id="p2", token_id="t-outside-guest")


def create_input(**overrides: str) -> CreateSessionInput:
    data = {
        "projectId": "p1",
        "eventId": "e1",
        "experienceId": "x1",
        "mode": "guest",
        "configSource": "published",
        **overrides,
    }
    return CreateSessionInput.model_validate(data)


def test_created_by_names_the_kind_of_caller() -> None:
    assert OWNER.created_by == "user:olga"
    assert GUEST.created_by == "guest:t-guest"
    assert SYSTEM.created_by == "system:system"
    assert System("sweeper").created_by == "system:sweeper"


def test_only_viewers_cannot_write() -> None:
    assert Role.OWNER.can_write
    assert Role.EDITOR.can_write
    assert not Role.VIEWER.can_write


# -- create -----------------------------------------------------------------------------------


@pytest.mark.parametrize("member", [OWNER, EDITOR], ids=["owner", "editor"])
@pytest.mark.parametrize(
    ("mode", "config_source"),
    [("preview", "draft"), ("preview", "published"), ("guest", "published"), ("guest", "draft")],
)
def test_owners_and_editors_create_any_session(
    member: Member, mode: str, config_source: str
) -> None:
    authorize_create(member, create_input(mode=mode, configSource=config_source))


@pytest.mark.parametrize("mode", ["preview", "guest"])
def test_viewers_cannot_create(mode: str) -> None:
    with pytest.raises(PermissionDeniedError):
        authorize_create(VIEWER, create_input(mode=mode))


@pytest.mark.parametrize("guest", [GUEST, EVENT_GUEST], ids=["guest", "event-guest"])
def test_guests_create_guest_sessions_on_the_published_config(guest: Guest) -> None:
    authorize_create(guest, create_input())


@pytest.mark.parametrize(
    ("mode", "config_source"),
    [("preview", "published"), ("guest", "draft"), ("preview", "draft")],
)
def test_guests_create_nothing_else(mode: str, config_source: str) -> None:
    with pytest.raises(PermissionDeniedError):
        authorize_create(GUEST, create_input(mode=mode, configSource=config_source))


def test_an_event_guest_creates_only_for_its_event() -> None:
    authorize_create(GUEST, create_input(eventId="e2"))
    with pytest.raises(PermissionDeniedError):
        authorize_create(EVENT_GUEST, create_input(eventId="e2"))


@pytest.mark.parametrize("principal", [OUTSIDER, OUTSIDE_GUEST], ids=["member", "guest"])
def test_nobody_creates_in_another_project(principal: Member | Guest) -> None:
    with pytest.raises(PermissionDeniedError):
        authorize_create(principal, create_input())


def test_the_system_creates_anything() -> None:
    authorize_create(SYSTEM, create_input(mode="preview", configSource="draft"))


# -- read and write ---------------------------------------------------------------------------


@pytest.mark.parametrize("principal", [OWNER, EDITOR, VIEWER, SYSTEM])
def test_members_and_the_system_read_every_session(
    make_session: MakeSession, principal: Member | System
) -> None:
    session = make_session(created_by=GUEST.created_by)
    authorize_session_read(principal, session)


@pytest.mark.parametrize("principal", [OWNER, EDITOR, SYSTEM])
def test_owners_editors_and_the_system_write_every_session(
    make_session: MakeSession, principal: Member | System
) -> None:
    session = make_session(created_by=GUEST.created_by)
    authorize_session_write(principal, session)


def test_viewers_cannot_write(make_session: MakeSession) -> None:
    with pytest.raises(PermissionDeniedError):
        authorize_session_write(VIEWER, make_session(created_by=VIEWER.created_by))
    with pytest.raises(PermissionDeniedError):
        authorize_project_write(VIEWER, "p1")


def test_guests_read_and_write_their_own_sessions(make_session: MakeSession) -> None:
    session = make_session(created_by=GUEST.created_by)
    authorize_session_read(GUEST, session)
    authorize_session_write(GUEST, session)


@pytest.mark.parametrize(
    "created_by", [OTHER_GUEST.created_by, OWNER.created_by, SYSTEM.created_by]
)
def test_guests_cannot_touch_sessions_they_did_not_create(
    make_session: MakeSession, created_by: str
) -> None:
    session = make_session(created_by=created_by)
    with pytest.raises(PermissionDeniedError):
        authorize_session_read(GUEST, session)
    with pytest.raises(PermissionDeniedError):
        authorize_session_write(GUEST, session)


@pytest.mark.parametrize("principal", [OUTSIDER, OUTSIDE_GUEST], ids=["member", "guest"])
def test_nobody_reads_or_writes_another_project(
    make_session: MakeSession, principal: Member | Guest
) -> None:
    session = make_session(created_by=principal.created_by)
    with pytest.raises(PermissionDeniedError):
        authorize_project_read(principal, "p1")
    with pytest.raises(PermissionDeniedError):
        authorize_session_read(principal, session)
    with pytest.raises(PermissionDeniedError):
        authorize_session_write(principal, session)


# -- administration ---------------------------------------------------------------------------


def test_only_owners_and_the_system_administer_a_project() -> None:
    authorize_project_admin(OWNER, "p1")
    authorize_project_admin(SYSTEM, "p1")
    authorize_project_admin(SYSTEM, None)
    for principal in (EDITOR, VIEWER, GUEST, OUTSIDER):
        with pytest.raises(PermissionDeniedError):
            authorize_project_admin(principal, "p1")


def test_only_the_system_creates_projects() -> None:
    with pytest.raises(PermissionDeniedError):
        authorize_project_admin(OWNER, None)
