"""Subscriptions: async iterators over the snapshots a change feed delivers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from session_runtime import (
    LocalChangeFeed,
    ProjectSubscription,
    Session,
    SessionStatus,
    SessionSubscription,
)

MakeSession = Callable[..., Session]


async def next_item(subscription: SessionSubscription | ProjectSubscription) -> Session:
    return await asyncio.wait_for(anext(subscription), 5)


async def assert_ended(subscription: SessionSubscription | ProjectSubscription) -> None:
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(subscription), 5)


def follow(feed: LocalChangeFeed) -> SessionSubscription:
    return SessionSubscription(feed.subscribe_session("p1", "s1"))


# -- one session ------------------------------------------------------------------------------


async def test_yields_each_snapshot_in_version_order(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)

    for version in (1, 2, 3):
        feed.publish(make_session(id="s1", version=version))
        assert (await next_item(subscription)).version == version
    assert subscription.session is not None
    assert subscription.session.version == 3
    subscription.close()


async def test_skips_snapshots_older_than_the_last_one_yielded(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)
    feed.publish(make_session(id="s1", version=4))
    assert (await next_item(subscription)).version == 4

    feed.publish(make_session(id="s1", version=3))
    feed.publish(make_session(id="s1", version=4))
    waiting = asyncio.create_task(next_item(subscription))
    await asyncio.sleep(0)
    feed.publish(make_session(id="s1", version=5))

    assert (await waiting).version == 5
    subscription.close()


async def test_a_slow_consumer_gets_the_latest(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)

    for version in range(1, 11):
        feed.publish(make_session(id="s1", version=version))

    assert (await next_item(subscription)).version == 10
    subscription.close()


@pytest.mark.parametrize("status", [SessionStatus.COMPLETED, SessionStatus.ABANDONED, "error"])
async def test_ends_after_a_final_status(
    make_session: MakeSession, status: SessionStatus | str
) -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)
    feed.publish(make_session(id="s1", version=1))
    feed.publish(make_session(id="s1", version=2, status=status))

    final = await next_item(subscription)
    assert final.is_final
    await assert_ended(subscription)
    assert subscription.is_closed
    assert feed.subscriber_count == 0


async def test_iterates_with_async_for(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)

    async def produce() -> None:
        for version in range(1, 4):
            feed.publish(make_session(id="s1", version=version))
            await asyncio.sleep(0)
        feed.publish(make_session(id="s1", version=4, status="completed"))

    producer = asyncio.create_task(produce())
    seen = [session.version async for session in subscription]
    await producer

    assert seen == sorted(set(seen))
    assert seen[-1] == 4


async def test_close_ends_iteration_and_frees_the_feed(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)
    assert feed.subscriber_count == 1

    subscription.close()

    assert subscription.is_closed
    assert feed.subscriber_count == 0
    feed.publish(make_session(id="s1"))
    await assert_ended(subscription)
    subscription.close()
    assert feed.subscriber_count == 0


async def test_close_wakes_a_waiting_consumer() -> None:
    feed = LocalChangeFeed()
    subscription = follow(feed)
    waiting = asyncio.create_task(anext(subscription))
    await asyncio.sleep(0)

    subscription.close()

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)


async def test_async_with_closes(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    async with follow(feed) as subscription:
        feed.publish(make_session(id="s1"))
        assert (await next_item(subscription)).version == 1
        assert feed.subscriber_count == 1
    assert subscription.is_closed
    assert feed.subscriber_count == 0


# -- a whole project --------------------------------------------------------------------------


async def test_a_project_subscription_yields_every_session(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = ProjectSubscription(feed.subscribe_project("p1"))

    feed.publish(make_session(id="a"))
    first = await next_item(subscription)
    feed.publish(make_session(id="b"))
    second = await next_item(subscription)

    assert (first.id, second.id) == ("a", "b")
    subscription.close()
    await assert_ended(subscription)


async def test_a_project_subscription_skips_stale_snapshots(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    subscription = ProjectSubscription(feed.subscribe_project("p1"))
    feed.publish(make_session(id="a", version=2))
    assert (await next_item(subscription)).version == 2

    feed.publish(make_session(id="a", version=1))
    feed.publish(make_session(id="b", version=1))

    newer = await next_item(subscription)
    assert (newer.id, newer.version) == ("b", 1)
    subscription.close()


async def test_a_project_subscription_continues_past_final_sessions(
    make_session: MakeSession,
) -> None:
    feed = LocalChangeFeed()
    async with ProjectSubscription(feed.subscribe_project("p1")) as subscription:
        feed.publish(make_session(id="a", version=2, status="completed"))
        assert (await next_item(subscription)).is_final
        feed.publish(make_session(id="b", version=1))
        assert (await next_item(subscription)).id == "b"
        assert feed.subscriber_count == 1
    assert feed.subscriber_count == 0
