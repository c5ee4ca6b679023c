"""The SDK's guest operations against a real server: join, resume, share, erase (both
clients), and a live subscription that hears its session was erased."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from session_runtime import SYSTEM
from session_runtime.client import (
    AsyncSessionRuntimeClient,
    NotFoundError,
    SessionRuntimeClient,
    UnauthenticatedError,
)

from .conftest import FAST_RECONNECT, ClientFactory, LiveServer, World

PORTRAIT = {"mediaAssetId": "m-1", "url": "https://cdn.example.com/m-1.jpg"}


def new_link(server: LiveServer, world: World, **options: Any) -> str:
    link = server.call(server.service.guests.create_join_link(SYSTEM, world.project_id, options))
    return link.code


def test_a_guest_joins_resumes_shares_and_erases_itself(
    server: LiveServer, world: World, connect: ClientFactory
) -> None:
    code = new_link(server, world, eventId=world.event_id)
    with SessionRuntimeClient.join(server.base_url, code) as guest:
        assert guest.guest is not None
        assert (guest.guest.project_id, guest.guest.event_id) == (world.project_id, world.event_id)
        project = guest.project(world.project_id)
        created = project.create_session(
            event_id=world.event_id,
            experience_id=world.experience_id,
            mode="guest",
            config_source="published",
        )
        assert created.session.created_by == guest.guest.guest_id
        project.update_session_progress(
            created.session_id, inputs={"email": "ada@example.com"}, outputs={"portrait": PORTRAIT}
        )
        # A phone that reloads comes back with its token and finds its session.
        with connect(guest.guest.token) as again:
            assert [s.id for s in again.my_sessions()] == [created.session_id]
        project.complete_session(created.session_id)
        share = project.share_session(created.session_id, expires_in_seconds=600)
        shown = httpx.get(share.json_url).json()
        assert shown["outputs"] == {"portrait": PORTRAIT} and "inputs" not in shown
        erased = guest.erase_me()
        assert (erased.sessions, erased.share_links, erased.tokens) == (1, 1, 1)
        with pytest.raises(UnauthenticatedError):
            guest.my_sessions()


def test_an_unknown_code_raises_not_found(server: LiveServer) -> None:
    with pytest.raises(NotFoundError):
        SessionRuntimeClient.join(server.base_url, "no-such-code-00000000000000")


async def test_the_async_client_joins_and_an_owner_erases_the_guest(
    server: LiveServer, world: World
) -> None:
    code = new_link(server, world)
    guest = await AsyncSessionRuntimeClient.join(server.base_url, code)
    async with guest, AsyncSessionRuntimeClient(server.base_url, world.owner) as owner:
        assert guest.guest is not None
        created = await guest.project(world.project_id).create_session(
            event_id=world.event_id,
            experience_id=world.experience_id,
            mode="guest",
            config_source="published",
        )
        assert [s.id for s in await guest.my_sessions()] == [created.session_id]
        live = owner.project(world.project_id).subscribe_session(
            created.session_id, reconnect=FAST_RECONNECT
        )
        async with live:
            first = await anext(aiter(live))
            assert first.id == created.session_id
            erased = await owner.project(world.project_id).erase_guest(guest.guest.guest_id)
            assert (erased.sessions, erased.share_links, erased.tokens) == (1, 0, 1)
            assert [session async for session in live] == []
            assert live.session is None
            assert isinstance(live.error, NotFoundError)
