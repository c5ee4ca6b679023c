"""Rows of the guest tables (join links, share links) to domain values and back, the same for
both SQL stores (timestamps are whole microseconds in both)."""

from __future__ import annotations

from typing import Final

from ..domain.guests import JoinLink, ShareLink
from .rows import RowMapping

JOIN_LINKS: Final = RowMapping(
    JoinLink,
    "id, project_id, event_id, label, code, created_by, created_at, expires_at, max_guests, "
    "joined_count, revoked_at",
    moments=("created_at",),
    optional_moments=("expires_at", "revoked_at"),
)
SHARE_LINKS: Final = RowMapping(
    ShareLink,
    "id, project_id, session_id, code_hash, created_by, created_at, expires_at, revoked_at",
    moments=("created_at", "expires_at"),
    optional_moments=("revoked_at",),
)
ACTIVE_FIRST: Final = "ORDER BY (status = 'active') DESC, created_at DESC, id DESC"
