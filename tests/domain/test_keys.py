"""Query keys, as the contract's ``sessionKeys``, and TanStack-style prefix matching."""

from __future__ import annotations

from session_runtime import key_starts_with, session_keys


def test_keys_are_the_contracts() -> None:
    assert session_keys.all == ("sessions",)
    assert session_keys.lists() == ("sessions", "list")
    assert session_keys.list("p1") == ("sessions", "list", "p1")
    assert session_keys.details() == ("sessions", "detail")
    assert session_keys.detail("p1", "s1") == ("sessions", "detail", "p1", "s1")


def test_keys_are_hashable_tuples() -> None:
    cache = {session_keys.detail("p1", "s1"): "cached"}
    assert cache[("sessions", "detail", "p1", "s1")] == "cached"


def test_every_key_starts_with_all() -> None:
    for key in (
        session_keys.lists(),
        session_keys.list("p1"),
        session_keys.details(),
        session_keys.detail("p1", "s1"),
    ):
        assert key_starts_with(key, session_keys.all)


def test_a_prefix_matches_the_keys_beneath_it_only() -> None:
    detail = session_keys.detail("p1", "s1")

    assert key_starts_with(detail, session_keys.details())
    assert key_starts_with(detail, ("sessions", "detail", "p1"))
    assert key_starts_with(detail, detail)
    assert not key_starts_with(detail, session_keys.lists())
    assert not key_starts_with(detail, session_keys.detail("p1", "s2"))
    assert not key_starts_with(session_keys.list("p1"), session_keys.list("p2"))


def test_a_key_does_not_start_with_a_longer_one() -> None:
    assert not key_starts_with(session_keys.details(), session_keys.detail("p1", "s1"))


def test_the_empty_prefix_matches_everything() -> None:
    assert key_starts_with(session_keys.list("p1"), ())
