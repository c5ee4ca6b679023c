"""Rows to sessions: one mapping for every store, whether the JSON columns come as text or
already decoded; and the guest tables' rows, each declared once as a ``RowMapping``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest

from session_runtime import Session
from session_runtime.domain.guests import JoinLink, ShareLink
from session_runtime.domain.timestamps import to_micros
from session_runtime.storage.guest_rows import JOIN_LINKS, SHARE_LINKS
from session_runtime.storage.json_columns import encode_checked
from session_runtime.storage.reporting_sql import qmark
from session_runtime.storage.rows import RowMapping, session_from_row, session_to_row

MakeSession = Callable[..., Session]


def test_a_row_with_json_text_maps_back_to_the_session(make_session: MakeSession) -> None:
    session = make_session(inputs={"profile": {"name": "Ada"}}, version=3)
    row = session_to_row(session, *encode_checked(session.inputs, session.outputs))

    assert session_from_row(row) == session


def test_a_row_with_decoded_json_maps_to_the_same_session(make_session: MakeSession) -> None:
    session = make_session(
        inputs={"answers": ["yes", 2]},
        outputs={"portrait": {"mediaAssetId": "m-1", "url": "https://cdn.example.com/m-1.jpg"}},
    )
    row = list(session_to_row(session, *encode_checked(session.inputs, session.outputs)))
    row[8], row[9] = orjson.loads(row[8]), orjson.loads(row[9])  # as PostgreSQL's codec gives

    assert session_from_row(row) == session


def test_a_join_link_goes_to_its_row_and_back_with_its_timestamps_in_microseconds() -> None:
    link = JoinLink(
        id="l-1",
        project_id="p-1",
        code="c-1",
        created_by="owner",
        created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        expires_at=None,
        max_guests=3,
    )
    row = JOIN_LINKS.to_row(link)

    assert len(row) == JOIN_LINKS.count == len(JOIN_LINKS.columns.split(", "))
    assert row[JOIN_LINKS.names.index("created_at")] == to_micros(link.created_at)
    assert row[JOIN_LINKS.names.index("expires_at")] is None
    assert JOIN_LINKS.from_row(row) == link


def test_a_share_link_row_read_back_is_the_same_link() -> None:
    moment = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    share = ShareLink(
        id="s-1",
        project_id="p-1",
        session_id="x-1",
        code_hash="h",
        created_by="guest",
        created_at=moment,
        expires_at=moment,
        revoked_at=moment,
    )

    assert SHARE_LINKS.from_row(SHARE_LINKS.to_row(share)) == share
    assert SHARE_LINKS.insert_sql("share_links", qmark).endswith("VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def test_a_mapping_refuses_a_timestamp_that_is_not_among_its_columns() -> None:
    with pytest.raises(ValueError, match="expired_at"):
        RowMapping(ShareLink, "id, created_at", moments=("created_at", "expired_at"))
