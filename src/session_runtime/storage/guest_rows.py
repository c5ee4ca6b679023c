"""Rows of the guest tables (join links, share links) to domain values and back, the same for
both SQL stores (timestamps are whole microseconds in both)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..domain.guests import JoinLink, ShareLink
from ..domain.timestamps import from_micros, to_micros
from .rows import micros_or_none

JOIN_LINK_COLUMNS: Final = (
    "id, project_id, event_id, label, code, created_by, created_at, expires_at, max_guests, "
    "joined_count, revoked_at"
)
SHARE_LINK_COLUMNS: Final = (
    "id, project_id, session_id, code_hash, created_by, created_at, expires_at, revoked_at"
)
ACTIVE_FIRST: Final = "ORDER BY (status = 'active') DESC, created_at DESC, id DESC"


def _moment(micros: int | None) -> Any:
    return None if micros is None else from_micros(micros)


def join_link_to_row(link: JoinLink) -> tuple[Any, ...]:
    return (
        link.id,
        link.project_id,
        link.event_id,
        link.label,
        link.code,
        link.created_by,
        to_micros(link.created_at),
        micros_or_none(link.expires_at),
        link.max_guests,
        link.joined_count,
        micros_or_none(link.revoked_at),
    )


def join_link_from_row(row: Sequence[Any]) -> JoinLink:
    return JoinLink(
        id=row[0],
        project_id=row[1],
        event_id=row[2],
        label=row[3],
        code=row[4],
        created_by=row[5],
        created_at=from_micros(row[6]),
        expires_at=_moment(row[7]),
        max_guests=row[8],
        joined_count=row[9],
        revoked_at=_moment(row[10]),
    )


def share_link_to_row(share: ShareLink) -> tuple[Any, ...]:
    return (
        share.id,
        share.project_id,
        share.session_id,
        share.code_hash,
        share.created_by,
        to_micros(share.created_at),
        to_micros(share.expires_at),
        micros_or_none(share.revoked_at),
    )


def share_link_from_row(row: Sequence[Any]) -> ShareLink:
    return ShareLink(
        id=row[0],
        project_id=row[1],
        session_id=row[2],
        code_hash=row[3],
        created_by=row[4],
        created_at=from_micros(row[5]),
        expires_at=from_micros(row[6]),
        revoked_at=_moment(row[7]),
    )
