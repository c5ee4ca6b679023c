"""The catalog (projects, events, experiences) and tokens, as the session operations rely on
them."""

from __future__ import annotations

from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    SessionService,
    UnauthenticatedError,
    ValidationError,
)

from ..factories import Callers, Catalog, ManualClock


async def test_a_project_gets_an_unguessable_id_unless_given_one(
    service: SessionService, clock: ManualClock
) -> None:
    moment = clock.now
    generated = await service.create_project(SYSTEM, {"name": "Booth"})
    chosen = await service.create_project(SYSTEM, {"name": "Kiosk", "id": "kiosk"})

    assert len(generated.id) >= 22
    assert generated.created_at == moment
    assert chosen.id == "kiosk"
    assert await service.get_project(SYSTEM, "kiosk") == chosen
    assert [p.id for p in await service.list_projects(SYSTEM)] == [generated.id, "kiosk"]


async def test_ids_are_unique_per_kind(service: SessionService, catalog: Catalog) -> None:
    with pytest.raises(FailedPreconditionError):
        await service.create_project(SYSTEM, {"name": "Again", "id": catalog.project_id})
    with pytest.raises(FailedPreconditionError):
        await service.create_event(
            SYSTEM, {"projectId": catalog.project_id, "name": "Again", "id": catalog.event_id}
        )
    with pytest.raises(FailedPreconditionError):
        await service.create_experience(
            SYSTEM,
            {"projectId": catalog.project_id, "name": "Again", "id": catalog.experience_id},
        )
    assert len(await service.list_projects(SYSTEM)) == 2
    assert len(await service.list_events(SYSTEM, catalog.project_id)) == 2
    assert len(await service.list_experiences(SYSTEM, catalog.project_id)) == 2


async def test_event_and_experience_ids_are_scoped_to_their_project(
    service: SessionService, catalog: Catalog
) -> None:
    event = await service.create_event(
        SYSTEM, {"projectId": catalog.other_project_id, "name": "Twin", "id": catalog.event_id}
    )
    experience = await service.create_experience(
        SYSTEM,
        {"projectId": catalog.other_project_id, "name": "Twin", "id": catalog.experience_id},
    )

    assert event.project_id == experience.project_id == catalog.other_project_id
    created = await service.create_session(
        SYSTEM,
        catalog.session_input(
            projectId=catalog.other_project_id,
            eventId=catalog.event_id,
            experienceId=catalog.experience_id,
        ),
    )
    assert created.session.project_id == catalog.other_project_id


async def test_events_and_experiences_list_in_creation_order(
    service: SessionService, catalog: Catalog
) -> None:
    events = await service.list_events(SYSTEM, catalog.project_id)
    experiences = await service.list_experiences(SYSTEM, catalog.project_id)

    assert [e.id for e in events] == [catalog.event_id, catalog.second_event_id]
    assert [x.id for x in experiences] == [catalog.experience_id, catalog.second_experience_id]
    assert (
        {e.project_id for e in events}
        == {x.project_id for x in experiences}
        == {catalog.project_id}
    )


async def test_parts_of_a_missing_project_are_not_found(service: SessionService) -> None:
    for create in (service.create_event, service.create_experience):
        with pytest.raises(NotFoundError) as caught:
            await create(SYSTEM, {"projectId": "missing", "name": "Orphan"})
        assert caught.value.details["resource"] == "project"
    with pytest.raises(NotFoundError) as caught:
        await service.get_project(SYSTEM, "missing")
    assert caught.value.details["resource"] == "project"


@pytest.mark.parametrize(
    "data",
    [{"name": ""}, {"name": "x" * 201}, {"name": 3}, {}, {"name": "ok", "extra": 1}],
)
async def test_catalog_input_is_validated(service: SessionService, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        await service.create_project(SYSTEM, data)
    assert await service.list_projects(SYSTEM) == []


async def test_members_see_only_their_project(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    for principal in (await callers.viewer(), await callers.guest()):
        assert [p.id for p in await service.list_projects(principal)] == [catalog.project_id]
        assert (await service.get_project(principal, catalog.project_id)).id == catalog.project_id
        with pytest.raises(PermissionDeniedError):
            await service.get_project(principal, catalog.other_project_id)
        with pytest.raises(PermissionDeniedError):
            await service.list_events(principal, catalog.other_project_id)


async def test_only_owners_change_the_catalog(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    owner = await callers.owner()
    event = await service.create_event(owner, {"projectId": catalog.project_id, "name": "Gala"})
    assert event.project_id == catalog.project_id

    for principal in (await callers.editor(), await callers.guest(), await callers.outsider()):
        with pytest.raises(PermissionDeniedError):
            await service.create_event(principal, {"projectId": catalog.project_id, "name": "X"})
    with pytest.raises(PermissionDeniedError):
        await service.create_project(owner, {"name": "Mine now"})


# -- tokens -----------------------------------------------------------------------------------


async def test_a_guest_token_for_a_missing_event_is_refused(
    service: SessionService, catalog: Catalog
) -> None:
    for event_id in ("missing", catalog.other_event_id):
        with pytest.raises(NotFoundError) as caught:
            await service.create_guest_token(SYSTEM, catalog.project_id, event_id=event_id)
        assert caught.value.details["resource"] == "event"


async def test_a_token_for_a_missing_project_is_refused(service: SessionService) -> None:
    with pytest.raises(NotFoundError):
        await service.create_guest_token(SYSTEM, "missing")
    with pytest.raises(NotFoundError):
        await service.create_member_token(SYSTEM, "missing", user="ada", role="owner")


@pytest.mark.parametrize(
    ("user", "role", "path"),
    [("ada", "admin", "role"), ("", "owner", "user"), ("x" * 201, "owner", "user")],
)
async def test_member_token_input_is_validated(
    service: SessionService, catalog: Catalog, user: str, role: str, path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await service.create_member_token(SYSTEM, catalog.project_id, user=user, role=role)
    assert caught.value.details[0]["path"] == path
    assert await service.list_tokens(SYSTEM, catalog.project_id) == []


async def test_tokens_list_per_project(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    await callers.member_token("editor")
    await callers.guest_token()
    await callers.guest_token(project_id=catalog.other_project_id)

    tokens = await service.list_tokens(SYSTEM, catalog.project_id)

    assert sorted(token.kind.value for token in tokens) == ["guest", "member"]
    assert all(token.project_id == catalog.project_id for token in tokens)


async def test_revoking_an_unknown_token_is_not_found(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    with pytest.raises(NotFoundError):
        await service.revoke_token(SYSTEM, "no-such-token")

    owner = await callers.owner()
    foreign, _secret = await service.create_guest_token(SYSTEM, catalog.other_project_id)
    with pytest.raises(NotFoundError):
        await service.revoke_token(owner, foreign.id)
    assert not [
        t for t in await service.list_tokens(SYSTEM, catalog.other_project_id) if t.is_revoked
    ]


async def test_an_owner_revokes_tokens_of_the_project(
    service: SessionService, catalog: Catalog, callers: Callers
) -> None:
    owner = await callers.owner()
    record, secret = await service.create_guest_token(owner, catalog.project_id)
    await service.authenticate(secret)

    revoked = await service.revoke_token(owner, record.id)

    assert revoked.id == record.id
    assert revoked.is_revoked
    tokens = {t.id: t for t in await service.list_tokens(owner, catalog.project_id)}
    assert tokens[record.id].is_revoked
    with pytest.raises(UnauthenticatedError):
        await service.authenticate(secret)


@pytest.mark.parametrize("chosen", ["kiosk/1", "a b", "..", "-x", "café"])
async def test_a_chosen_id_no_url_can_reach_is_refused(
    service: SessionService, catalog: Catalog, chosen: str
) -> None:
    projects_before = await service.list_projects(SYSTEM)
    part = {"projectId": catalog.project_id, "name": "Kiosk", "id": chosen}
    attempts = (
        lambda: service.create_project(SYSTEM, {"name": "Kiosk", "id": chosen}),
        lambda: service.create_event(SYSTEM, part),
        lambda: service.create_experience(SYSTEM, part),
    )
    for attempt in attempts:
        with pytest.raises(ValidationError) as refused:
            await attempt()
        assert [problem["path"] for problem in refused.value.details] == ["id"]
        assert "letters" in refused.value.message

    assert await service.list_projects(SYSTEM) == projects_before
    assert len(await service.list_events(SYSTEM, catalog.project_id)) == 2
    assert len(await service.list_experiences(SYSTEM, catalog.project_id)) == 2
