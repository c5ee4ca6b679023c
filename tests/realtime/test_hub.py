"""In-process fan-out: mailboxes that hold the newest snapshot per session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from session_runtime import LocalChangeFeed, Session
from session_runtime.realtime import Mailbox

MakeSession = Callable[..., Session]


async def nothing_waiting(mailbox: Mailbox) -> bool:
    """Whether ``get`` would wait: nothing is pending for this mailbox."""
    waiting = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    is_waiting = not waiting.done()
    mailbox.close()
    assert await waiting is None or not is_waiting
    return is_waiting


async def test_a_session_subscriber_gets_what_is_published(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    session = make_session()
    mailbox = feed.subscribe_session(session.project_id, session.id)

    feed.publish(session)

    assert await mailbox.get() == session


async def test_publishing_reaches_only_the_followers_of_that_session(
    make_session: MakeSession,
) -> None:
    feed = LocalChangeFeed()
    followed = make_session(id="s1")
    mailbox = feed.subscribe_session("p1", "s1")

    feed.publish(make_session(id="s2"))
    feed.publish(make_session(id="s1", project_id="p2"))
    feed.publish(followed)

    assert await mailbox.get() == followed
    assert await nothing_waiting(mailbox)


async def test_every_follower_gets_its_own_copy(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    session = make_session()
    mailboxes = [feed.subscribe_session(session.project_id, session.id) for _ in range(3)]

    feed.publish(session)

    assert [await mailbox.get() for mailbox in mailboxes] == [session] * 3


async def test_a_project_subscriber_gets_every_session_of_the_project(
    make_session: MakeSession,
) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_project("p1")
    first, second = make_session(id="s1"), make_session(id="s2")

    feed.publish(first)
    feed.publish(make_session(id="s3", project_id="p2"))
    feed.publish(second)

    taken = [await mailbox.get(), await mailbox.get()]
    assert {session.id for session in taken if session is not None} == {"s1", "s2"}
    assert await nothing_waiting(mailbox)


async def test_a_slow_reader_gets_the_newest_snapshot_only(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_session("p1", "s1")

    for version in range(1, 6):
        feed.publish(make_session(id="s1", version=version))

    newest = await mailbox.get()
    assert newest is not None
    assert newest.version == 5
    mailbox.close()
    assert await mailbox.get() is None


async def test_an_older_snapshot_never_replaces_a_newer_one(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_session("p1", "s1")

    feed.publish(make_session(id="s1", version=3))
    feed.publish(make_session(id="s1", version=2))
    feed.publish(make_session(id="s1", version=3))

    taken = await mailbox.get()
    assert taken is not None
    assert taken.version == 3


async def test_a_project_mailbox_keeps_the_newest_of_each_session(
    make_session: MakeSession,
) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_project("p1")

    for version in (1, 2, 3):
        feed.publish(make_session(id="a", version=version))
        feed.publish(make_session(id="b", version=version * 10))

    taken = [await mailbox.get(), await mailbox.get()]
    assert sorted((s.id, s.version) for s in taken if s is not None) == [("a", 3), ("b", 30)]


async def test_get_waits_for_the_next_publish(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_session("p1", "s1")
    waiting = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()

    session = make_session(id="s1")
    feed.publish(session)

    assert await asyncio.wait_for(waiting, 5) == session


async def test_closing_wakes_a_waiting_reader(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_session("p1", "s1")
    waiting = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)

    mailbox.close()

    assert await asyncio.wait_for(waiting, 5) is None


async def test_closing_drops_what_was_waiting_and_ignores_later_offers(
    make_session: MakeSession,
) -> None:
    feed = LocalChangeFeed()
    mailbox = feed.subscribe_session("p1", "s1")
    feed.publish(make_session(id="s1"))

    mailbox.close()
    mailbox.offer(make_session(id="s1", version=2))

    assert await mailbox.get() is None


def test_subscriber_count_follows_subscribe_and_close() -> None:
    feed = LocalChangeFeed()
    assert feed.subscriber_count == 0

    first = feed.subscribe_session("p1", "s1")
    second = feed.subscribe_session("p1", "s1")
    project = feed.subscribe_project("p1")
    assert feed.subscriber_count == 3

    first.close()
    assert feed.subscriber_count == 2
    first.close()
    assert feed.subscriber_count == 2
    second.close()
    project.close()
    assert feed.subscriber_count == 0


async def test_a_closed_follower_gets_nothing_more(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    closed = feed.subscribe_session("p1", "s1")
    still_open = feed.subscribe_session("p1", "s1")
    closed.close()

    session = make_session(id="s1")
    feed.publish(session)

    assert await closed.get() is None
    assert await still_open.get() == session


def test_publishing_without_followers_is_harmless(make_session: MakeSession) -> None:
    feed = LocalChangeFeed()
    feed.publish(make_session())
    assert feed.subscriber_count == 0


def test_the_feed_remembers_a_bounded_number_of_published_versions(
    make_session: MakeSession,
) -> None:
    feed = LocalChangeFeed(remembered_versions=2)
    first, second, third = (make_session(id=name) for name in ("s1", "s2", "s3"))
    feed.publish(first)
    feed.publish(second)
    feed.publish(first.evolve(version=2))  # written again: now the most recent

    feed.publish(third)

    assert feed.published_version("p1", "s1") == 2
    assert feed.published_version("p1", "s2") == 0
    assert feed.published_version("p1", "s3") == 1
