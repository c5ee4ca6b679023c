"""Who may do what: members by role, guests by what they created, nobody across projects, and
no token no entry."""

from __future__ import annotations

from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    Guest,
    Member,
    PermissionDeniedError,
    Principal,
    Role,
    Session,
    SessionRuntime,
    SessionService,
    SessionStatus,
    UnauthenticatedError,
)

from ..factories import Callers, Catalog, NewSession

WRITES = ["update", "complete", "abandon", "fail"]
READS = ["get", "subscribe"]


class Operations:
    """Every operation on one session, run as a given principal."""

    def __init__(self, runtime: SessionRuntime, session: Session) -> None:
        self.runtime = runtime
        self.service = runtime.service
        self.session = session

    async def run(self, name: str, principal: Principal) -> Any:
        project_id, session_id = self.session.project_id, self.session.id
        service = self.service
        if name == "get":
            return await service.get_session(principal, project_id, session_id)
        if name == "list":
            return await service.list_sessions(principal, project_id)
        if name == "update":
            return await service.update_session_progress(
                principal,
                project_id,
                {"sessionId": session_id, "currentStepIndex": 1, "inputs": {"by": "them"}},
            )
        if name == "complete":
            return await service.complete_session(principal, project_id, session_id)
        if name == "abandon":
            return await service.abandon_session(principal, project_id, session_id)
        if name == "fail":
            return await service.fail_session(
                principal, project_id, {"sessionId": session_id, "reason": "broken"}
            )
        if name == "subscribe":
            subscription = await service.subscribe_session(principal, project_id, session_id)
            try:
                return await anext(subscription)
            finally:
                subscription.close()
        if name == "subscribe_project":
            project_subscription = await service.subscribe_project(principal, project_id)
            project_subscription.close()
            return project_subscription
        raise AssertionError(name)

    async def stored(self) -> Session:
        return await self.service.get_session(SYSTEM, self.session.project_id, self.session.id)

    async def denied(self, name: str, principal: Principal) -> None:
        """Check that ``principal`` may not run ``name`` and that it left no trace."""
        before = await self.stored()
        with pytest.raises(PermissionDeniedError) as caught:
            await self.run(name, principal)
        assert caught.value.code == "PERMISSION_DENIED"
        assert caught.value.http_status == 403
        assert await self.stored() == before
        assert self.runtime.feed.subscriber_count == 0


async def sessions_in_project(service: SessionService, project_id: str) -> int:
    return len((await service.list_sessions(SYSTEM, project_id, {"limit": 500})).items)


@pytest.fixture
async def operations(runtime: SessionRuntime, new_session: NewSession) -> Operations:
    return Operations(runtime, await new_session())


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [None, "", "srt_unknownunknownunknownunknown", "not even shaped like a token", "\ud800"],
)
async def test_no_token_or_an_unknown_one_is_unauthenticated(
    service: SessionService, token: str | None
) -> None:
    with pytest.raises(UnauthenticatedError) as caught:
        await service.authenticate(token)
    assert caught.value.code == "UNAUTHENTICATED"
    assert caught.value.http_status == 401


async def test_a_token_authenticates_as_what_it_was_minted_for(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    record, secret = await service.create_member_token(
        SYSTEM, catalog.project_id, user="ada", role="editor"
    )
    assert await service.authenticate(secret) == Member(
        project_id=catalog.project_id, user="ada", role=Role.EDITOR, token_id=record.id
    )

    record, secret = await service.create_guest_token(
        SYSTEM, catalog.project_id, event_id=catalog.event_id
    )
    assert await service.authenticate(secret) == Guest(
        project_id=catalog.project_id, token_id=record.id, event_id=catalog.event_id
    )


async def test_a_revoked_token_is_unauthenticated(
    service: SessionService, catalog: Catalog
) -> None:
    record, secret = await service.create_guest_token(SYSTEM, catalog.project_id)
    await service.authenticate(secret)

    revoked = await service.revoke_token(SYSTEM, record.id)
    again = await service.revoke_token(SYSTEM, record.id)

    assert revoked.is_revoked
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(UnauthenticatedError):
        await service.authenticate(secret)


async def test_a_token_is_stored_only_as_its_hash(
    service: SessionService, catalog: Catalog
) -> None:
    record, secret = await service.create_member_token(
        SYSTEM, catalog.project_id, user="ada", role="owner"
    )
    stored = [token for token in await service.list_tokens(SYSTEM, catalog.project_id)]

    assert [token.id for token in stored] == [record.id]
    assert all(secret not in str(value) for value in vars_of(stored[0]).values())
    assert stored[0].token_hash == record.token_hash != secret


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


# -- members ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*READS, "list", "subscribe_project"])
async def test_viewers_read_everything(operations: Operations, callers: Callers, name: str) -> None:
    assert await operations.run(name, await callers.viewer()) is not None


@pytest.mark.parametrize("name", WRITES)
async def test_viewers_cannot_write(operations: Operations, callers: Callers, name: str) -> None:
    await operations.denied(name, await callers.viewer())


@pytest.mark.parametrize("mode", ["preview", "guest"])
async def test_viewers_cannot_create(
    service: SessionService, catalog: Catalog, callers: Callers, mode: str
) -> None:
    viewer = await callers.viewer()
    data = catalog.session_input(mode=mode, configSource="published")
    with pytest.raises(PermissionDeniedError):
        await service.create_session(viewer, data)
    assert await sessions_in_project(service, catalog.project_id) == 0


@pytest.mark.parametrize("role", ["owner", "editor"])
@pytest.mark.parametrize(
    ("mode", "config_source"),
    [("preview", "draft"), ("preview", "published"), ("guest", "published")],
)
async def test_owners_and_editors_create_preview_and_guest_sessions(
    service: SessionService,
    catalog: Catalog,
    callers: Callers,
    role: str,
    mode: str,
    config_source: str,
) -> None:
    member = await callers.principal(await callers.member_token(role))
    data = catalog.session_input(mode=mode, configSource=config_source)

    session = (await service.create_session(member, data)).session

    assert session.mode.value == mode
    assert session.created_by == member.created_by


@pytest.mark.parametrize("role", ["owner", "editor"])
async def test_owners_and_editors_write_every_session_of_the_project(
    runtime: SessionRuntime,
    new_session: NewSession,
    catalog: Catalog,
    callers: Callers,
    role: str,
) -> None:
    member = await callers.principal(await callers.member_token(role))
    guest = await callers.guest()
    by_guest = Operations(runtime, await new_session(guest, **catalog.guest_input()))
    by_system = Operations(runtime, await new_session())

    updated = await by_guest.run("update", member)
    completed = await by_system.run("complete", member)

    assert updated.inputs == {"by": "them"}
    assert completed.status is SessionStatus.COMPLETED


# -- guests -----------------------------------------------------------------------------------


async def test_guests_create_guest_sessions_on_the_published_config(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    guest = await callers.guest()

    session = (await service.create_session(guest, catalog.guest_input())).session

    assert session.created_by == guest.created_by
    assert (session.mode.value, session.config_source.value) == ("guest", "published")


@pytest.mark.parametrize(
    ("mode", "config_source"), [("preview", "draft"), ("preview", "published"), ("guest", "draft")]
)
async def test_guests_create_nothing_else(
    service: SessionService, catalog: Catalog, callers: Callers, mode: str, config_source: str
) -> None:
    guest = await callers.guest()
    with pytest.raises(PermissionDeniedError):
        await service.create_session(
            guest, catalog.session_input(mode=mode, configSource=config_source)
        )
    assert await sessions_in_project(service, catalog.project_id) == 0


async def test_a_guest_of_an_event_creates_only_for_that_event(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    kiosk = await callers.guest(event_id=catalog.event_id)
    anywhere = await callers.guest()

    await service.create_session(kiosk, catalog.guest_input())
    with pytest.raises(PermissionDeniedError):
        await service.create_session(kiosk, catalog.guest_input(eventId=catalog.second_event_id))
    await service.create_session(anywhere, catalog.guest_input(eventId=catalog.second_event_id))

    assert await sessions_in_project(service, catalog.project_id) == 2


@pytest.mark.parametrize("name", [*READS, *WRITES])
async def test_guests_read_and_write_their_own_sessions(
    runtime: SessionRuntime, new_session: NewSession, catalog: Catalog, callers: Callers, name: str
) -> None:
    guest = await callers.guest()
    operations = Operations(runtime, await new_session(guest, **catalog.guest_input()))

    result = await operations.run(name, guest)

    assert result == await operations.stored()


@pytest.mark.parametrize("name", [*READS, *WRITES])
async def test_guests_cannot_touch_another_guests_session(
    runtime: SessionRuntime, new_session: NewSession, catalog: Catalog, callers: Callers, name: str
) -> None:
    owner_guest, other_guest = await callers.guest(), await callers.guest()
    operations = Operations(runtime, await new_session(owner_guest, **catalog.guest_input()))

    await operations.denied(name, other_guest)


@pytest.mark.parametrize("name", [*READS, *WRITES])
async def test_guests_cannot_touch_sessions_members_created(
    operations: Operations, callers: Callers, name: str
) -> None:
    await operations.denied(name, await callers.guest())


async def test_guests_cannot_follow_a_whole_project(
    operations: Operations, callers: Callers
) -> None:
    await operations.denied("subscribe_project", await callers.guest())


# -- other projects ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*READS, *WRITES, "list", "subscribe_project"])
@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
async def test_members_of_another_project_are_denied_everything(
    operations: Operations, callers: Callers, name: str, role: str
) -> None:
    await operations.denied(name, await callers.outsider(role))


@pytest.mark.parametrize("name", [*READS, *WRITES, "list", "subscribe_project"])
async def test_guests_of_another_project_are_denied_everything(
    operations: Operations, callers: Callers, name: str
) -> None:
    await operations.denied(name, await callers.outside_guest())


@pytest.mark.parametrize("mode", ["preview", "guest"])
async def test_nobody_creates_in_another_project(
    service: SessionService, catalog: Catalog, callers: Callers, mode: str
) -> None:
    data = catalog.session_input(mode=mode, configSource="published")
    for principal in (await callers.outsider(), await callers.outside_guest()):
        with pytest.raises(PermissionDeniedError):
            await service.create_session(principal, data)
    assert await sessions_in_project(service, catalog.project_id) == 0


async def test_another_project_cannot_learn_whether_a_session_exists(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    outsider = await callers.outsider()
    with pytest.raises(PermissionDeniedError):
        await service.get_session(outsider, catalog.project_id, "no-such-session")
    with pytest.raises(PermissionDeniedError):
        await service.subscribe_session(outsider, catalog.project_id, "no-such-session")


# -- administration ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_only_owners_mint_tokens(
    service: SessionService, catalog: Catalog, callers: Callers, role: str
) -> None:
    member = await callers.principal(await callers.member_token(role))
    with pytest.raises(PermissionDeniedError):
        await service.create_guest_token(member, catalog.project_id)
    with pytest.raises(PermissionDeniedError):
        await service.create_member_token(member, catalog.project_id, user="x", role="owner")

    owner = await callers.owner()
    record, secret = await service.create_guest_token(owner, catalog.project_id)
    assert await service.authenticate(secret) == Guest(
        project_id=catalog.project_id, token_id=record.id
    )


async def test_an_owner_cannot_mint_tokens_for_another_project(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    owner = await callers.owner()
    with pytest.raises(PermissionDeniedError):
        await service.create_guest_token(owner, catalog.other_project_id)
