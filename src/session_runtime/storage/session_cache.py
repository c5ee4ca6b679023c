"""The writer's memory of sessions it last read or wrote, so an update need not read its row.

Only the single writer uses it, inside its transaction. It stays true to the file because:
the writer checks ``PRAGMA data_version`` at the start of every transaction and forgets
everything when another connection has committed since; a transaction that rolls back forgets
everything too. The sessions kept here are private: callers get copies decoded from the stored
JSON, so nothing a caller does to a session it was handed can reach what is written next.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import LRUCache

from ..domain.models import Session

SESSION_CACHE_BYTES = 32 * 1024 * 1024
"""What the cache may hold, counted as the JSON of the sessions plus a fixed 512 bytes each."""


@dataclass(frozen=True, slots=True)
class CachedSession:
    session: Session
    inputs_json: str
    outputs_json: str

    @property
    def size(self) -> int:
        return len(self.inputs_json) + len(self.outputs_json) + 512


SessionCache = LRUCache[str, CachedSession]
"""Least recently used first out, bounded by the size of the JSON it holds."""


def new_session_cache(max_bytes: int = SESSION_CACHE_BYTES) -> SessionCache:
    return LRUCache(maxsize=max_bytes, getsizeof=cached_size)


def cached_size(entry: CachedSession) -> int:
    return entry.size


def remember(cache: SessionCache, session_id: str, entry: CachedSession) -> None:
    """Keep ``entry``, unless it alone is larger than the whole cache (then forget the id)."""
    if entry.size > cache.maxsize:
        cache.pop(session_id, None)
    else:
        cache[session_id] = entry
