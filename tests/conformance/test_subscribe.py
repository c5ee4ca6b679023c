"""Live updates: the current snapshot first, then one per change in version order, the latest
for a slow consumer, and nothing left behind."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from session_runtime import (
    SYSTEM,
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ProjectSubscription,
    Session,
    SessionRuntime,
    SessionService,
    SessionStatus,
    SessionSubscription,
)

from ..factories import Callers, Catalog, NewSession


async def next_item(subscription: SessionSubscription | ProjectSubscription) -> Session:
    return await asyncio.wait_for(anext(subscription), 5)


async def assert_ended(subscription: SessionSubscription) -> None:
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(subscription), 5)


async def step(service: SessionService, session: Session, index: int) -> Session:
    return await service.update_session_progress(
        SYSTEM,
        session.project_id,
        {"sessionId": session.id, "currentStepIndex": index, "inputs": {f"step{index}": index}},
    )


async def test_the_first_item_is_the_current_snapshot(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()
    for index in range(1, 4):
        await step(service, session, index)

    async with await service.subscribe_session(SYSTEM, session.project_id, session.id) as sub:
        first = await next_item(sub)

    assert first == await service.get_session(SYSTEM, session.project_id, session.id)
    assert first.version == 4


async def test_then_one_item_per_change_in_version_order(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()
    async with await service.subscribe_session(SYSTEM, session.project_id, session.id) as sub:
        assert (await next_item(sub)).version == 1
        for index in range(1, 6):
            written = await step(service, session, index)
            assert await next_item(sub) == written
            assert written.version == index + 1


async def test_a_live_consumer_sees_versions_only_increase(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()
    subscription = await service.subscribe_session(SYSTEM, session.project_id, session.id)

    async def consume() -> list[int]:
        versions = []
        async for item in subscription:
            # Published only after commit: what a subscriber is told is already stored.
            stored = await service.get_session(SYSTEM, session.project_id, session.id)
            assert stored.version >= item.version
            versions.append(item.version)
        return versions

    consumer = asyncio.create_task(consume())
    for index in range(1, 41):
        await step(service, session, index)
        if index % 7 == 0:
            await asyncio.sleep(0)
    await service.complete_session(SYSTEM, session.project_id, session.id)
    versions = await asyncio.wait_for(consumer, 10)

    assert versions[0] == 1
    assert versions[-1] == 42
    assert all(later > earlier for earlier, later in itertools.pairwise(versions))


async def test_a_slow_consumer_gets_the_latest(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()
    async with await service.subscribe_session(SYSTEM, session.project_id, session.id) as sub:
        assert (await next_item(sub)).version == 1

        for index in range(1, 8):
            latest = await step(service, session, index)

        assert await next_item(sub) == latest
        assert latest.version == 8
        newer = await step(service, session, 8)
        assert await next_item(sub) == newer


async def test_a_consumer_that_never_reads_does_not_hold_writers_back(
    runtime: SessionRuntime, new_session: NewSession
) -> None:
    service = runtime.service
    session = await new_session()
    idle = await service.subscribe_session(SYSTEM, session.project_id, session.id)

    results = await asyncio.gather(*(step(service, session, index) for index in range(1, 101)))

    assert max(result.version for result in results) == 101
    assert (await next_item(idle)).version == 101
    idle.close()
    assert runtime.feed.subscriber_count == 0


@pytest.mark.parametrize("finish", ["complete", "abandon", "fail"])
async def test_iteration_ends_after_a_final_status(
    runtime: SessionRuntime, new_session: NewSession, finish: str
) -> None:
    service = runtime.service
    session = await new_session()
    subscription = await service.subscribe_session(SYSTEM, session.project_id, session.id)
    assert (await next_item(subscription)).version == 1

    if finish == "complete":
        await service.complete_session(SYSTEM, session.project_id, session.id)
    elif finish == "abandon":
        await service.abandon_session(SYSTEM, session.project_id, session.id)
    else:
        await service.fail_session(
            SYSTEM, session.project_id, {"sessionId": session.id, "reason": "x"}
        )

    final = await next_item(subscription)
    assert final.is_final
    assert final.version == 2
    await assert_ended(subscription)
    assert runtime.feed.subscriber_count == 0


async def test_following_a_finished_session_yields_it_once(
    runtime: SessionRuntime, new_session: NewSession
) -> None:
    service = runtime.service
    session = await new_session()
    await service.complete_session(SYSTEM, session.project_id, session.id)

    subscription = await service.subscribe_session(SYSTEM, session.project_id, session.id)

    assert (await next_item(subscription)).status is SessionStatus.COMPLETED
    await assert_ended(subscription)
    assert runtime.feed.subscriber_count == 0


async def test_close_frees_the_subscription(
    runtime: SessionRuntime, new_session: NewSession
) -> None:
    service = runtime.service
    session = await new_session()
    subscription = await service.subscribe_session(SYSTEM, session.project_id, session.id)
    assert runtime.feed.subscriber_count == 1

    subscription.close()

    assert runtime.feed.subscriber_count == 0
    await step(service, session, 1)
    await assert_ended(subscription)
    subscription.close()
    assert runtime.feed.subscriber_count == 0


async def test_leaving_async_with_frees_the_subscription(
    runtime: SessionRuntime, new_session: NewSession
) -> None:
    service = runtime.service
    session = await new_session()
    async with await service.subscribe_session(SYSTEM, session.project_id, session.id) as sub:
        await next_item(sub)
        assert runtime.feed.subscriber_count == 1
    assert runtime.feed.subscriber_count == 0


async def test_every_subscriber_gets_every_change(
    runtime: SessionRuntime, new_session: NewSession, callers: Callers
) -> None:
    service = runtime.service
    session = await new_session()
    watchers = [SYSTEM, await callers.viewer(), await callers.editor()]
    subscriptions = [
        await service.subscribe_session(watcher, session.project_id, session.id)
        for watcher in watchers
    ]
    assert runtime.feed.subscriber_count == 3
    for subscription in subscriptions:
        assert (await next_item(subscription)).version == 1

    written = await step(service, session, 1)

    for subscription in subscriptions:
        assert await next_item(subscription) == written
        subscription.close()
    assert runtime.feed.subscriber_count == 0


async def test_a_refused_or_repeated_write_publishes_nothing(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()
    async with await service.subscribe_session(SYSTEM, session.project_id, session.id) as sub:
        await next_item(sub)
        with pytest.raises(FailedPreconditionError):
            await service.update_session_progress(
                SYSTEM,
                session.project_id,
                {"sessionId": session.id, "inputs": {"x": 1}},
                expected_version=7,
            )
        written = await step(service, session, 1)
        assert await next_item(sub) == written


async def test_a_missing_session_is_not_found_and_leaves_nothing(
    runtime: SessionRuntime, catalog: Catalog
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await runtime.service.subscribe_session(SYSTEM, catalog.project_id, "no-such-session")
    assert caught.value.details["resource"] == "session"
    assert runtime.feed.subscriber_count == 0


async def test_a_session_is_followed_only_in_its_project(
    runtime: SessionRuntime, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    with pytest.raises(NotFoundError):
        await runtime.service.subscribe_session(SYSTEM, catalog.other_project_id, session.id)
    assert runtime.feed.subscriber_count == 0


async def test_authorization_is_checked_at_subscribe(
    runtime: SessionRuntime, catalog: Catalog, callers: Callers, new_session: NewSession
) -> None:
    service = runtime.service
    session = await new_session()
    for principal in (
        await callers.outsider(),
        await callers.outside_guest(),
        await callers.guest(),
    ):
        with pytest.raises(PermissionDeniedError):
            await service.subscribe_session(principal, catalog.project_id, session.id)
        assert runtime.feed.subscriber_count == 0


# -- a whole project --------------------------------------------------------------------------


async def test_a_project_subscription_sees_every_session_change(
    runtime: SessionRuntime, catalog: Catalog, callers: Callers, new_session: NewSession
) -> None:
    service = runtime.service
    viewer = await callers.viewer()
    async with await service.subscribe_project(viewer, catalog.project_id) as sub:
        created = await new_session()
        assert await next_item(sub) == created

        guest = await callers.guest()
        by_guest = await new_session(guest, **catalog.guest_input())
        assert await next_item(sub) == by_guest

        written = await step(service, created, 1)
        assert await next_item(sub) == written

        completed = await service.complete_session(SYSTEM, catalog.project_id, by_guest.id)
        assert await next_item(sub) == completed
        await service.complete_session(SYSTEM, catalog.project_id, by_guest.id)

        await service.create_session(
            SYSTEM,
            catalog.session_input(
                projectId=catalog.other_project_id,
                eventId=catalog.other_event_id,
                experienceId=catalog.other_experience_id,
            ),
        )
        last = await step(service, created, 2)
        assert await next_item(sub) == last
    assert runtime.feed.subscriber_count == 0


async def test_a_project_subscription_is_for_members_of_the_project(
    runtime: SessionRuntime, catalog: Catalog, callers: Callers
) -> None:
    service = runtime.service
    for principal in (
        await callers.guest(),
        await callers.outsider(),
        await callers.outside_guest(),
    ):
        with pytest.raises(PermissionDeniedError):
            await service.subscribe_project(principal, catalog.project_id)
    assert runtime.feed.subscriber_count == 0
