"""Erasing a guest on one PostgreSQL node reaches the subscribers of every other node."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from session_runtime import SYSTEM, PostgresStore, SessionRuntime
from session_runtime.domain.guests import SessionErased
from session_runtime.realtime.postgres import PostgresChangeListener

from ..factories import build_catalog
from ..support.postgres import PostgresDatabase


def node(
    store_factory: Callable[[], PostgresStore],
) -> tuple[SessionRuntime, PostgresChangeListener]:
    """A server node's runtime: its own store and feed, and a listener on the shared database."""
    store = store_factory()
    runtime = SessionRuntime(store)
    listener = PostgresChangeListener(store, runtime.feed)
    runtime.listener = listener
    return runtime, listener


async def test_an_erasure_on_one_node_ends_subscriptions_on_another(
    postgres: PostgresDatabase,
) -> None:
    stores = postgres.store_factory()
    writer, _ = node(stores)
    reader, listening = node(stores)
    async with writer, reader:
        await asyncio.wait_for(listening.is_listening.wait(), 10)
        catalog = await build_catalog(writer.service)
        link = await writer.service.guests.create_join_link(SYSTEM, catalog.project_id)
        joined = await writer.service.guests.join(link.code)
        guest = await writer.service.authenticate(joined.secret)
        created = await writer.service.create_session(guest, catalog.guest_input())

        follower = await reader.service.subscribe_session(
            SYSTEM, catalog.project_id, created.session_id
        )
        assert (await anext(follower)).version == 1
        project = await reader.service.subscribe_project(SYSTEM, catalog.project_id)

        erasure = await writer.service.guests.erase_guest(
            SYSTEM, catalog.project_id, joined.guest_id
        )
        assert erasure.sessions == 1

        async def heard() -> tuple[list[int], object]:
            versions = [session.version async for session in follower]
            return versions, await anext(project)

        versions, notice = await asyncio.wait_for(heard(), 10)
        assert versions == [] and follower.is_erased
        assert notice == SessionErased(catalog.project_id, created.session_id)
        project.close()
