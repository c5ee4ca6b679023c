"""The PostgreSQL change listener across outages: it catches up from its last delivery.

The listening node reaches PostgreSQL through a ``TcpProxy``; cutting the proxy is an outage
for that node only, while the writing node, connected directly, goes on writing. Server time
is the real clock, shared by both nodes in this process, and the listener catches up without a
margin, so that what each catch-up reads can be counted. The bounds in ``asyncio.timeout``
guard against a hang; nothing here measures time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from session_runtime import SYSTEM, Session, SessionRuntime
from session_runtime.realtime.postgres import PostgresChangeListener
from session_runtime.storage.postgres import PostgresStore

from ..support.postgres import PostgresDatabase, TcpProxy

HANG_GUARD = 30.0
OUTAGES = 3


@pytest.fixture
async def proxy(postgres: PostgresDatabase) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(postgres.dsn)
    await proxy.start()
    yield proxy
    await proxy.close()


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (every 10 ms) until it holds."""
    try:
        async with asyncio.timeout(HANG_GUARD):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"never: {what}") from None


async def test_each_catch_up_reads_only_what_changed_since_the_last_delivery(
    postgres: PostgresDatabase, proxy: TcpProxy
) -> None:
    schema = postgres.new_schema()
    writer = SessionRuntime(PostgresStore(postgres.dsn, schema=schema))
    store = PostgresStore(
        proxy.dsn, schema=schema, connect_timeout=0.5, command_timeout=1.0, min_pool=1
    )
    watcher = SessionRuntime(store)
    # No margin: each catch-up starts exactly at the last delivery, so what it reads can be
    # counted (the margin's re-reads are for other nodes' clocks; here there is one clock).
    listener = PostgresChangeListener(
        store,
        watcher.feed,
        health_check_seconds=0.5,
        max_backoff_seconds=0.2,
        catch_up_margin=timedelta(0),
        catch_up_page=2,  # several pages for every catch-up but the first
    )
    watcher.listener = listener
    async with writer, watcher:
        service = writer.service
        project = await service.create_project(SYSTEM, {"name": "Booth"})
        event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Launch"})
        experience = await service.create_experience(
            SYSTEM, {"projectId": project.id, "name": "Portrait"}
        )

        async def create() -> Session:
            created = await service.create_session(
                SYSTEM,
                {
                    "projectId": project.id,
                    "eventId": event.id,
                    "experienceId": experience.id,
                    "mode": "guest",
                    "configSource": "published",
                },
            )
            return created.session

        def delivered(sessions: list[Session]) -> bool:
            return all(
                watcher.feed.published_version(s.project_id, s.id) >= s.version for s in sessions
            )

        await until(listener.is_listening.is_set, "the listener listens")
        subscription = await watcher.service.subscribe_project(SYSTEM, project.id)
        try:
            before = [await create() for _ in range(3)]
            await until(lambda: delivered(before), "the first sessions reach the watcher")

            for outage in range(1, OUTAGES + 1):
                await proxy.cut()
                await until(lambda: not listener.is_listening.is_set(), "the outage shows")

                # Written while the watcher hears nothing: one old session changes, and as
                # many new ones as the outage's number.
                old = before[outage % len(before)]
                changed = [
                    await service.update_session_progress(
                        SYSTEM, project.id, {"sessionId": old.id, "currentStepIndex": outage}
                    ),
                    *[await create() for _ in range(outage)],
                ]

                await proxy.restore()
                await until(lambda n=outage: listener.reconnections == n, f"reconnection {outage}")
                await until(lambda c=changed: delivered(c), f"the changes of outage {outage}")
                # This outage's changes only: none of the earlier outages' again.
                assert list(listener.catch_up_reads) == list(range(2, outage + 2))
                before = [*before, *changed[1:]]
        finally:
            subscription.close()


def test_reconnecting_waits_with_full_jitter_under_a_ceiling() -> None:
    listener = PostgresChangeListener(
        None,  # type: ignore[arg-type]  # only the backoff is asked for
        None,  # type: ignore[arg-type]
        initial_backoff_seconds=0.05,
        max_backoff_seconds=2.0,
    )

    for attempt, ceiling in ((0, 0.05), (1, 0.1), (3, 0.4), (6, 2.0), (60, 2.0), (10_000, 2.0)):
        waits = [listener.backoff_seconds(attempt) for _ in range(500)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling / 2  # spread over the whole range, not a fixed step
        assert min(waits) < ceiling / 2
