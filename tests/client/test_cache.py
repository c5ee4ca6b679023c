"""The query cache: its own rules, then how reads, subscriptions and mutations use it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from session_runtime import Session
from session_runtime.client import (
    AsyncSessionRuntimeClient,
    ProjectClient,
    QueryCache,
    SessionRuntimeClient,
    key_starts_with,
    session_keys,
)

from .conftest import AsyncClientFactory, ClientFactory, LiveServer, World

pytestmark = pytest.mark.timeout(20)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fresh_then_stale_with_age() -> None:
    clock = Clock()
    cache = QueryCache(stale_seconds=10, clock=clock)
    key = session_keys.detail("p1", "s1")
    assert cache.get(key) is None and cache.is_stale(key) and key not in cache
    cache.set(key, "value")
    assert (cache.get(key), cache.get_fresh(key), cache.is_stale(key)) == ("value", "value", False)
    clock.now += 10
    assert (cache.get(key), cache.get_fresh(key), cache.is_stale(key)) == ("value", None, True)
    entry = cache.entry(key)
    assert entry is not None and entry.updated_at == 100.0 and not entry.is_invalidated


def test_invalidate_by_prefix_keeps_the_value_but_makes_it_stale() -> None:
    cache = QueryCache(stale_seconds=60)
    keys = [
        session_keys.detail("p1", "s1"),
        session_keys.detail("p1", "s2"),
        session_keys.detail("p2", "s1"),
        (*session_keys.list("p1"), "limit=50"),
        (*session_keys.list("p2"), "limit=50"),
    ]
    for key in keys:
        cache.set(key, key[-1])
    assert cache.invalidate(session_keys.detail("p1", "s1")) == 1
    assert cache.invalidate(session_keys.list("p1")) == 1
    assert [cache.is_stale(key) for key in keys] == [True, False, False, True, False]
    assert cache.get(keys[0]) == "s1" and cache.get_fresh(keys[0]) is None
    assert cache.invalidate(session_keys.details()) == 3
    assert cache.invalidate() == len(cache) == 5
    assert all(cache.is_stale(key) for key in keys)
    cache.set(keys[0], "again")
    assert not cache.is_stale(keys[0])


def test_remove_forgets_by_prefix() -> None:
    cache = QueryCache()
    cache.set(session_keys.detail("p1", "s1"), 1)
    cache.set(session_keys.list("p1"), 2)
    assert cache.remove(session_keys.lists()) == 1
    assert cache.keys() == [session_keys.detail("p1", "s1")]
    assert cache.remove() == 1 and len(cache) == 0


def test_a_session_never_goes_back_to_an_older_version(
    make_session: Callable[..., Session],
) -> None:
    cache = QueryCache()
    key = session_keys.detail("p1", "s1")
    newer, older = make_session(id="s1", version=3), make_session(id="s1", version=2)
    assert cache.set_session(key, newer)
    assert not cache.set_session(key, older)
    assert cache.get(key) == newer
    cache.invalidate(key)
    assert cache.set_session(key, newer)  # the same version, seen live again: fresh
    assert not cache.is_stale(key)


def test_it_can_be_shared_between_threads() -> None:
    cache = QueryCache()

    def work(thread: int) -> None:
        for index in range(500):
            cache.set(session_keys.detail(f"p{thread}", str(index)), index)
            cache.invalidate(session_keys.list(f"p{thread}"))
            cache.is_stale(session_keys.detail(f"p{thread}", str(index)))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 2000
    assert all(key_starts_with(key, session_keys.details()) for key in cache.keys())


def test_the_stale_time_cannot_be_negative() -> None:
    with pytest.raises(ValueError):
        QueryCache(stale_seconds=-1)


# -- the cache as the clients use it ------------------------------------------------------------


def create(project: ProjectClient, world: World) -> Session:
    return project.create_session(
        event_id=world.event_id,
        experience_id=world.experience_id,
        mode="preview",
        config_source="draft",
    ).session


def test_reads_fill_it_and_cached_reads_use_it(
    server: LiveServer, world: World, connect: ClientFactory
) -> None:
    client = connect(cache=QueryCache(stale_seconds=60))
    project = client.project(world.project_id)
    session = create(project, world)
    detail = session_keys.detail(world.project_id, session.id)
    client.cache.remove()

    fetched = project.get_session(session.id)
    assert client.cache.get(detail) == fetched and not client.cache.is_stale(detail)
    page = project.list_sessions(status="active", limit=10)
    list_key = (*session_keys.list(world.project_id), "limit=10&status=active")
    assert client.cache.get(list_key) == page

    # Another client changes the session: a cached read does not see it, a plain read does.
    connect().project(world.project_id).update_session_progress(session.id, current_step_index=4)
    assert project.get_session(session.id, use_cache=True) == fetched
    assert project.list_sessions(status="active", limit=10, use_cache=True) == page
    assert project.get_session(session.id).current_step_index == 4
    assert project.get_session(session.id, use_cache=True).current_step_index == 4


def test_mutations_invalidate_the_detail_and_the_lists(
    world: World, connect: ClientFactory
) -> None:
    client = connect(cache=QueryCache(stale_seconds=60))
    project = client.project(world.project_id)
    session = create(project, world)
    other = create(project, world)
    other_detail = session_keys.detail(world.project_id, other.id)
    project.get_session(session.id)
    project.get_session(other.id)
    project.list_sessions()
    project.list_sessions(limit=1)
    lists = [key for key in client.cache.keys() if key_starts_with(key, session_keys.lists())]
    assert len(lists) == 2 and not any(map(client.cache.is_stale, lists))

    mutations: list[Callable[[], Any]] = [
        lambda: project.update_session_progress(session.id, current_step_index=1),
        lambda: project.complete_session(session.id),
        lambda: project.abandon_session(other.id),
    ]
    for mutate in mutations:
        project.get_session(session.id)
        project.list_sessions()
        project.list_sessions(limit=1)
        written = mutate()
        touched = session_keys.detail(world.project_id, written.id)
        assert client.cache.is_stale(touched)
        assert client.cache.get(touched) == written  # the newest value stays readable
        assert all(map(client.cache.is_stale, lists))

    # A cached read of an invalidated entry asks the server again, and is fresh after.
    assert project.get_session(other.id, use_cache=True).status == "abandoned"
    assert not client.cache.is_stale(other_detail)


def test_creating_a_session_invalidates_the_lists(world: World, connect: ClientFactory) -> None:
    client = connect(cache=QueryCache(stale_seconds=60))
    project = client.project(world.project_id)
    page = project.list_sessions()
    created = create(project, world)
    key = (*session_keys.list(world.project_id), "limit=50")
    assert client.cache.is_stale(key) and client.cache.get(key) == page
    assert project.list_sessions(use_cache=True).items == [created]


def test_subscriptions_refresh_the_detail(world: World, connect: ClientFactory) -> None:
    client = connect(cache=QueryCache(stale_seconds=60))
    project = client.project(world.project_id)
    session = create(project, world)
    detail = session_keys.detail(world.project_id, session.id)
    with project.subscribe_session(session.id) as live:
        assert next(live) == session
        connect().project(world.project_id).update_session_progress(session.id, inputs={"a": 1})
        snapshot = next(live)
        assert client.cache.get(detail) == snapshot and not client.cache.is_stale(detail)
        assert project.get_session(session.id, use_cache=True) == snapshot
        project.update_session_progress(session.id, inputs={"b": 2})
        assert client.cache.is_stale(detail)
        assert next(live).inputs == {"a": 1, "b": 2}
        assert not client.cache.is_stale(detail)


async def test_the_async_client_uses_it_the_same_way(
    world: World, aconnect: AsyncClientFactory
) -> None:
    client: AsyncSessionRuntimeClient = aconnect(cache=QueryCache(stale_seconds=60))
    project = client.project(world.project_id)
    created = await project.create_session(
        event_id=world.event_id, experience_id=world.experience_id, mode="preview",
        config_source="draft",
    )  # fmt: skip
    detail = session_keys.detail(world.project_id, created.session_id)
    assert client.cache.is_stale(detail)
    fetched = await project.get_session(created.session_id)
    assert await project.get_session(created.session_id, use_cache=True) is fetched
    async with project.subscribe_session(created.session_id) as live:
        assert await anext(live) == fetched
        await project.update_session_progress(created.session_id, current_step_index=2)
        assert client.cache.is_stale(detail)
        snapshot = await anext(live)
        assert client.cache.get(detail) == snapshot and not client.cache.is_stale(detail)


def test_clients_share_a_cache_when_given_one(server: LiveServer, world: World) -> None:
    cache = QueryCache()
    with (
        SessionRuntimeClient(server.base_url, world.editor, cache=cache) as first,
        SessionRuntimeClient(server.base_url, world.viewer, cache=cache) as second,
    ):
        assert first.cache is second.cache is cache
