"""Guests who arrive by a link, on every store: join links and their refusals, guest tokens
that expire, resume, share links, erasure."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    FailedPreconditionError,
    Guest,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    SessionService,
    SessionStatus,
    UnauthenticatedError,
    ValidationError,
)
from session_runtime.domain.guests import SessionErased

from ..factories import Callers, Catalog, ManualClock

PORTRAIT = {"mediaAssetId": "m-1", "url": "https://cdn.example.com/m-1.jpg"}


async def joined_guest(service: SessionService, code: str) -> tuple[str, Guest]:
    joined = await service.guests.join(code)
    principal = await service.authenticate(joined.secret)
    assert isinstance(principal, Guest)
    return joined.secret, principal


async def completed_session(service: SessionService, catalog: Catalog, guest: Principal) -> str:
    created = await service.create_session(guest, catalog.guest_input())
    session_id = created.session_id
    await service.update_session_progress(
        guest,
        catalog.project_id,
        {"sessionId": session_id, "inputs": {"email": "ada@example.com"}},
    )
    await service.update_session_progress(
        guest, catalog.project_id, {"sessionId": session_id, "outputs": {"portrait": PORTRAIT}}
    )
    await service.complete_session(guest, catalog.project_id, session_id)
    return session_id


# -- join links -----------------------------------------------------------------------------


async def test_a_guest_joins_by_a_link_and_is_scoped_to_its_project_and_event(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    link = await service.guests.create_join_link(
        await callers.editor(), catalog.project_id, {"eventId": catalog.event_id}
    )
    assert len(link.code) >= 22 and link.joined_count == 0
    joined = await service.guests.join(link.code)
    guest = await service.authenticate(joined.secret)
    assert guest == Guest(catalog.project_id, joined.token.id, catalog.event_id)
    assert joined.token.expires_at == joined.token.created_at + timedelta(hours=24)
    created = await service.create_session(guest, catalog.guest_input())
    assert created.session.created_by == joined.guest_id
    with pytest.raises(PermissionDeniedError):
        await service.create_session(guest, catalog.guest_input(eventId=catalog.second_event_id))
    [listed] = await service.guests.list_join_links(SYSTEM, catalog.project_id)
    assert listed.joined_count == 1


@pytest.mark.parametrize("who", ["viewer", "guest", "outsider"])
async def test_only_owners_and_editors_manage_join_links(
    service: SessionService, catalog: Catalog, callers: Callers, who: str
) -> None:
    principal = {
        "viewer": callers.viewer,
        "guest": callers.guest,
        "outsider": callers.outsider,
    }[who]
    caller = await principal()
    link = await service.guests.create_join_link(await callers.owner(), catalog.project_id)
    with pytest.raises(PermissionDeniedError):
        await service.guests.create_join_link(caller, catalog.project_id)
    with pytest.raises(PermissionDeniedError):
        await service.guests.list_join_links(caller, catalog.project_id)
    with pytest.raises(PermissionDeniedError):
        await service.guests.revoke_join_link(caller, catalog.project_id, link.id)
    [still] = await service.guests.list_join_links(SYSTEM, catalog.project_id)
    assert still.revoked_at is None


async def test_a_link_for_an_unknown_event_or_with_bad_input_is_refused(
    service: SessionService, catalog: Catalog
) -> None:
    with pytest.raises(NotFoundError) as missing:
        await service.guests.create_join_link(SYSTEM, catalog.project_id, {"eventId": "nope"})
    assert missing.value.details["resource"] == "event"
    with pytest.raises(ValidationError):
        await service.guests.create_join_link(SYSTEM, catalog.project_id, {"maxGuests": 0})
    with pytest.raises(ValidationError):
        await service.guests.create_join_link(SYSTEM, catalog.project_id, {"colour": "red"})
    assert await service.guests.list_join_links(SYSTEM, catalog.project_id) == []


async def test_an_unknown_code_is_not_found(service: SessionService, catalog: Catalog) -> None:
    for code in ("no-such-code-0000000000000000", "", "x" * 500, "bad\x00code"):
        with pytest.raises(NotFoundError) as refused:
            await service.guests.join(code)
        assert "no join link has this code" in refused.value.message


async def test_a_revoked_link_lets_nobody_new_in_and_those_in_keep_going(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    link = await service.guests.create_join_link(SYSTEM, catalog.project_id)
    secret, guest = await joined_guest(service, link.code)
    revoked = await service.guests.revoke_join_link(
        await callers.owner(), catalog.project_id, link.id
    )
    assert revoked.revoked_at is not None
    with pytest.raises(FailedPreconditionError) as refused:
        await service.guests.join(link.code)
    assert refused.value.details["reason"] == "revoked"
    assert "revoked" in refused.value.message
    # The guest who joined before goes on: its token works and it can still write.
    assert await service.authenticate(secret) == guest
    await service.create_session(guest, catalog.guest_input())
    [listed] = await service.guests.list_join_links(SYSTEM, catalog.project_id)
    assert listed.joined_count == 1
    with pytest.raises(NotFoundError):
        await service.guests.revoke_join_link(SYSTEM, catalog.other_project_id, link.id)


async def test_an_expired_link_is_refused(
    service: SessionService, catalog: Catalog, clock: ManualClock
) -> None:
    link = await service.guests.create_join_link(
        SYSTEM, catalog.project_id, {"expiresInSeconds": 3600}
    )
    await service.guests.join(link.code)
    clock.advance(timedelta(hours=1))
    with pytest.raises(FailedPreconditionError) as refused:
        await service.guests.join(link.code)
    assert refused.value.details["reason"] == "expired"
    [listed] = await service.guests.list_join_links(SYSTEM, catalog.project_id)
    assert listed.joined_count == 1


async def test_a_full_link_is_refused_and_its_cap_holds_under_concurrent_joins(
    service: SessionService, catalog: Catalog
) -> None:
    link = await service.guests.create_join_link(SYSTEM, catalog.project_id, {"maxGuests": 5})
    outcomes = await asyncio.gather(
        *(service.guests.join(link.code) for _ in range(20)), return_exceptions=True
    )
    joined = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(joined) == 5
    assert all(isinstance(error, FailedPreconditionError) for error in refused)
    assert {error.details["reason"] for error in refused} == {"full"}  # type: ignore[union-attr]
    [listed] = await service.guests.list_join_links(SYSTEM, catalog.project_id)
    assert listed.joined_count == 5
    assert len({guest.token.id for guest in joined}) == 5  # type: ignore[union-attr]


async def test_a_guest_token_expires(
    service: SessionService, catalog: Catalog, clock: ManualClock
) -> None:
    link = await service.guests.create_join_link(SYSTEM, catalog.project_id)
    secret, guest = await joined_guest(service, link.code)
    clock.advance(timedelta(hours=23, minutes=59))
    assert await service.authenticate(secret) == guest
    clock.advance(timedelta(minutes=1))
    with pytest.raises(UnauthenticatedError) as refused:
        await service.authenticate(secret)
    assert "expired" in refused.value.message


# -- resume ---------------------------------------------------------------------------------


async def test_my_sessions_lists_only_my_own_active_first_then_newest(
    service: SessionService, catalog: Catalog
) -> None:
    link = await service.guests.create_join_link(SYSTEM, catalog.project_id)
    _, guest = await joined_guest(service, link.code)
    _, other = await joined_guest(service, link.code)
    ids = []
    for _ in range(4):
        ids.append((await service.create_session(guest, catalog.guest_input())).session_id)
    await service.create_session(other, catalog.guest_input())
    await service.complete_session(guest, catalog.project_id, ids[3])  # the newest, done
    await service.abandon_session(guest, catalog.project_id, ids[0])  # the oldest, done
    listed = [session.id for session in await service.guests.my_sessions(guest)]
    assert listed == [ids[2], ids[1], ids[3], ids[0]]
    assert [s.id for s in await service.guests.my_sessions(guest, limit=1)] == [ids[2]]
    with pytest.raises(ValidationError):
        await service.guests.my_sessions(guest, limit=0)
    with pytest.raises(PermissionDeniedError):
        await service.guests.my_sessions(SYSTEM)


# -- share links ----------------------------------------------------------------------------


async def test_a_share_link_shows_the_outputs_and_never_the_inputs(
    service: SessionService, catalog: Catalog, clock: ManualClock
) -> None:
    link = await service.guests.create_join_link(SYSTEM, catalog.project_id)
    _, guest = await joined_guest(service, link.code)
    session_id = await completed_session(service, catalog, guest)
    share, code = await service.guests.create_share_link(
        guest, catalog.project_id, session_id, {"expiresInSeconds": 600}
    )
    assert len(code) >= 22 and code not in share.code_hash
    result = await service.guests.shared_result(code)
    assert result.outputs == {"portrait": PORTRAIT}
    assert "ada@example.com" not in repr(result)
    listed = await service.guests.list_share_links(guest, catalog.project_id, session_id)
    assert [item.id for item in listed] == [share.id]
    clock.advance(timedelta(seconds=600))
    with pytest.raises(NotFoundError):
        await service.guests.shared_result(code)


async def test_a_revoked_share_link_stops_at_once(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    guest = await callers.guest()
    session_id = await completed_session(service, catalog, guest)
    share, code = await service.guests.create_share_link(
        await callers.editor(), catalog.project_id, session_id
    )
    assert share.expires_at - share.created_at == timedelta(days=7)
    await service.guests.revoke_share_link(guest, catalog.project_id, session_id, share.id)
    with pytest.raises(NotFoundError) as refused:
        await service.guests.shared_result(code)
    assert "unknown, revoked or expired" in refused.value.message
    with pytest.raises(NotFoundError):
        await service.guests.shared_result("not-a-code")


async def test_who_may_share_a_session(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    guest = await callers.guest()
    session_id = await completed_session(service, catalog, guest)
    active = (await service.create_session(guest, catalog.guest_input())).session_id
    with pytest.raises(FailedPreconditionError) as not_done:
        await service.guests.create_share_link(guest, catalog.project_id, active)
    assert not_done.value.details == {"status": "active"}
    for intruder in (await callers.guest(), await callers.viewer(), await callers.outsider()):
        with pytest.raises(PermissionDeniedError):
            await service.guests.create_share_link(intruder, catalog.project_id, session_id)
    for reader in (await callers.guest(), await callers.outsider()):
        with pytest.raises(PermissionDeniedError):
            await service.guests.list_share_links(reader, catalog.project_id, session_id)
    assert await service.guests.list_share_links(SYSTEM, catalog.project_id, session_id) == []


# -- erasure --------------------------------------------------------------------------------


async def test_an_owner_erases_one_guest_and_nothing_else(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    link = await service.guests.create_join_link(SYSTEM, catalog.project_id)
    secret, guest = await joined_guest(service, link.code)
    other_secret, other = await joined_guest(service, link.code)
    erased_id = await completed_session(service, catalog, guest)
    active_id = (await service.create_session(guest, catalog.guest_input())).session_id
    kept_id = await completed_session(service, catalog, other)
    _, code = await service.guests.create_share_link(guest, catalog.project_id, erased_id)
    _, kept_code = await service.guests.create_share_link(other, catalog.project_id, kept_id)
    follower = await service.subscribe_session(SYSTEM, catalog.project_id, active_id)
    assert (await anext(follower)).version == 1
    project = await service.subscribe_project(await callers.owner(), catalog.project_id)

    erasure = await service.guests.erase_guest(
        await callers.owner(), catalog.project_id, guest.created_by
    )
    assert (erasure.sessions, erasure.share_links, erasure.tokens) == (2, 1, 1)
    for session_id in (erased_id, active_id):
        with pytest.raises(NotFoundError):
            await service.get_session(SYSTEM, catalog.project_id, session_id)
    with pytest.raises(UnauthenticatedError):
        await service.authenticate(secret)
    with pytest.raises(NotFoundError):
        await service.guests.shared_result(code)
    # The subscriber of an erased session hears so, and its subscription ends.
    assert [s.version async for s in follower] == []
    assert follower.is_erased
    heard = {item.session_id async for item in _until_two_erasures(project)}
    assert heard == {erased_id, active_id}
    # The other guest is untouched.
    assert await service.authenticate(other_secret) == other
    assert (await service.get_session(other, catalog.project_id, kept_id)).outputs
    assert (await service.guests.shared_result(kept_code)).outputs == {"portrait": PORTRAIT}


async def _until_two_erasures(project: Any) -> Any:
    seen = 0
    async for item in project:
        if isinstance(item, SessionErased):
            yield item
            seen += 1
            if seen == 2:
                project.close()


async def test_a_guest_erases_itself_and_no_one_else_may_but_an_owner(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    guest = await callers.guest()
    session_id = await completed_session(service, catalog, guest)
    for intruder in (
        await callers.guest(),
        await callers.editor(),
        await callers.viewer(),
        await callers.outsider(),
        await callers.outside_guest(),
    ):
        with pytest.raises(PermissionDeniedError):
            await service.guests.erase_guest(intruder, catalog.project_id, guest.created_by)
    with pytest.raises(PermissionDeniedError):
        await service.guests.erase_me(await callers.owner())
    assert await service.get_session(SYSTEM, catalog.project_id, session_id)
    erasure = await service.guests.erase_me(guest)
    assert (erasure.sessions, erasure.share_links, erasure.tokens) == (1, 0, 1)
    with pytest.raises(NotFoundError):
        await service.guests.erase_guest(SYSTEM, catalog.project_id, guest.created_by)
    with pytest.raises(ValidationError):
        await service.guests.erase_guest(SYSTEM, catalog.project_id, "user:ada")


async def test_purge_takes_a_sessions_share_links_with_it(
    service: SessionService, catalog: Catalog, callers: Callers, clock: ManualClock
) -> None:
    guest = await callers.guest()
    session_id = await completed_session(service, catalog, guest)
    share, code = await service.guests.create_share_link(
        guest, catalog.project_id, session_id, {"expiresInSeconds": 366 * 86400}
    )
    clock.advance(timedelta(days=91))
    [count] = await service.purge_sessions(SYSTEM, timedelta(days=90))
    assert (count.count, count.status) == (1, SessionStatus.COMPLETED)
    with pytest.raises(NotFoundError):
        await service.guests.shared_result(code)
    assert await service.store.find_share_link(share.code_hash) is None
