"""The SQLite writer's session cache: least recently used first out, bounded in bytes."""

from __future__ import annotations

from collections.abc import Callable

from session_runtime import Session
from session_runtime.storage.session_cache import CachedSession, new_session_cache, remember

MakeSession = Callable[..., Session]


def cached(session: Session, inputs_json: str = "{}") -> CachedSession:
    return CachedSession(session, inputs_json, "{}")


def test_the_cache_holds_at_most_its_bytes_forgetting_the_least_recently_used(
    make_session: MakeSession,
) -> None:
    cache = new_session_cache(max_bytes=3 * (1_000 + 2 + 512))
    entries = {name: cached(make_session(id=name), "x" * 1_000) for name in "abcd"}
    for name in "abc":
        remember(cache, name, entries[name])

    assert cache.get("a") is entries["a"]  # "b" is now the least recently used
    remember(cache, "d", entries["d"])

    assert set(cache) == {"a", "c", "d"}
    assert cache.currsize <= cache.maxsize


def test_an_entry_larger_than_the_cache_is_not_kept_and_replaces_nothing_stale(
    make_session: MakeSession,
) -> None:
    cache = new_session_cache(max_bytes=2_000)
    session = make_session(id="s")
    remember(cache, "s", cached(session))

    remember(cache, "s", cached(session, "x" * 5_000))

    assert "s" not in cache  # the older, smaller version is not left behind either
