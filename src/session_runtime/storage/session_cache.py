"""The writer's memory of sessions it last read or wrote, so an update need not read its row.

Only the single writer uses it, inside its transaction. It stays true to the file because:
the writer checks ``PRAGMA data_version`` at the start of every transaction and forgets
everything when another connection has committed since; a transaction that rolls back forgets
everything too. The sessions kept here are private: callers get copies decoded from the stored
JSON, so nothing a caller does to a session it was handed can reach what is written next.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..domain.models import Session


@dataclass(frozen=True, slots=True)
class CachedSession:
    session: Session
    inputs_json: str
    outputs_json: str

    @property
    def size(self) -> int:
        return len(self.inputs_json) + len(self.outputs_json) + 512


class SessionCache:
    """Least recently used first out, bounded by the size of the JSON it holds."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedSession] = OrderedDict()
        self._bytes = 0
        self.data_version: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str) -> CachedSession | None:
        entry = self._entries.get(session_id)
        if entry is not None:
            self._entries.move_to_end(session_id)
        return entry

    def put(self, session_id: str, entry: CachedSession) -> None:
        old = self._entries.pop(session_id, None)
        if old is not None:
            self._bytes -= old.size
        if entry.size > self.max_bytes:
            return
        self._entries[session_id] = entry
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def discard(self, session_id: str) -> None:
        old = self._entries.pop(session_id, None)
        if old is not None:
            self._bytes -= old.size

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
