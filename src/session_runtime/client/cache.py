"""A query cache keyed by ``session_keys`` tuples, invalidated by prefix as TanStack Query does.

Reads fill it (``get_session`` -> ``detail(p, s)``, ``list_sessions`` -> ``list(p)`` + params),
subscriptions refresh ``detail(p, s)`` with every snapshot, and every mutation invalidates
``detail(p, s)`` and ``list(p)``. An invalidated entry keeps its value (readable, like
``getQueryData``) but is stale: the next cached read fetches it again.

>>> cache = QueryCache(stale_seconds=30)
>>> cache.set(session_keys.detail("p1", "s1"), "a session")
>>> cache.is_stale(session_keys.detail("p1", "s1"))
False
>>> cache.invalidate(session_keys.details())
1
>>> cache.is_stale(session_keys.detail("p1", "s1")), cache.get(session_keys.detail("p1", "s1"))
(True, 'a session')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..domain.keys import QueryKey, key_starts_with, session_keys
from ..domain.models import Session

__all__ = ["CacheEntry", "QueryCache"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What the cache holds for one key."""

    value: Any
    updated_at: float
    """When the value was stored, on the cache's clock (``time.monotonic`` by default)."""
    is_invalidated: bool = False


class QueryCache:
    """Values by query key; safe to share between threads.

    An entry is *fresh* while it is younger than ``stale_seconds`` and has not been invalidated;
    ``get_session(..., use_cache=True)`` answers from a fresh entry without a request.
    """

    def __init__(
        self, *, stale_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if stale_seconds < 0:
            raise ValueError("stale_seconds must be >= 0")
        self.stale_seconds = stale_seconds
        self._clock = clock
        self._entries: dict[QueryKey, CacheEntry] = {}
        self._lock = threading.Lock()

    def get(self, key: QueryKey) -> Any | None:
        """The value stored under ``key``, fresh or stale; ``None`` when there is none."""
        entry = self.entry(key)
        return None if entry is None else entry.value

    def get_fresh(self, key: QueryKey) -> Any | None:
        """The value under ``key`` only if it is fresh; ``None`` otherwise."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._is_stale(entry):
                return None
            return entry.value

    def entry(self, key: QueryKey) -> CacheEntry | None:
        """The entry under ``key`` (value, when it was stored, whether invalidated), or ``None``."""
        with self._lock:
            return self._entries.get(key)

    def set(self, key: QueryKey, value: Any) -> None:
        """Store ``value`` under ``key``, fresh from now."""
        with self._lock:
            self._entries[key] = CacheEntry(value, self._clock())

    def set_session(self, key: QueryKey, session: Session) -> bool:
        """Store a session snapshot unless the cache already holds a newer version of it.

        Answers arrive out of order (a read sent before a write may land after it); the
        version keeps the newest. Returns whether ``session`` was stored.
        """
        with self._lock:
            current = self._entries.get(key)
            if (
                current is not None
                and isinstance(current.value, Session)
                and current.value.version > session.version
            ):
                return False
            self._entries[key] = CacheEntry(session, self._clock())
            return True

    def contains(self, key: QueryKey) -> bool:
        """Whether anything, fresh or stale, is stored under ``key``."""
        with self._lock:
            return key in self._entries

    __contains__ = contains

    def is_stale(self, key: QueryKey) -> bool:
        """Whether ``key`` would be fetched again: absent, invalidated, or too old."""
        with self._lock:
            entry = self._entries.get(key)
            return entry is None or self._is_stale(entry)

    def invalidate(self, prefix: QueryKey = session_keys.all) -> int:
        """Mark every entry whose key starts with ``prefix`` stale; returns how many.

        >>> cache.invalidate(session_keys.list("p1"))   # every listing of p1   # doctest: +SKIP
        """
        with self._lock:
            matching = [key for key in self._entries if key_starts_with(key, prefix)]
            for key in matching:
                self._entries[key] = replace(self._entries[key], is_invalidated=True)
            return len(matching)

    def remove(self, prefix: QueryKey = session_keys.all) -> int:
        """Forget every entry whose key starts with ``prefix``; returns how many."""
        with self._lock:
            matching = [key for key in self._entries if key_starts_with(key, prefix)]
            for key in matching:
                del self._entries[key]
            return len(matching)

    def keys(self) -> list[QueryKey]:
        """Every key stored, fresh or stale."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _is_stale(self, entry: CacheEntry) -> bool:
        return entry.is_invalidated or self._clock() - entry.updated_at >= self.stale_seconds
