"""Query keys, as the contract's ``sessionKeys``: tuples, compared by prefix."""

from __future__ import annotations

from typing import Final

QueryKey = tuple[str, ...]


class SessionKeys:
    """``session_keys.detail("p1", "s1") == ("sessions", "detail", "p1", "s1")``.

    Invalidating a prefix invalidates every key that starts with it, as TanStack Query does:

    >>> key_starts_with(session_keys.detail("p1", "s1"), session_keys.details())
    True
    """

    all: Final[QueryKey] = ("sessions",)

    def lists(self) -> QueryKey:
        return (*self.all, "list")

    def list(self, project_id: str) -> QueryKey:
        return (*self.lists(), project_id)

    def details(self) -> QueryKey:
        return (*self.all, "detail")

    def detail(self, project_id: str, session_id: str) -> QueryKey:
        return (*self.details(), project_id, session_id)


session_keys: Final = SessionKeys()


def key_starts_with(key: QueryKey, prefix: QueryKey) -> bool:
    """Whether ``key`` begins with every element of ``prefix``."""
    return key[: len(prefix)] == prefix
