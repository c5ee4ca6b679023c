"""Rows to sessions: one mapping for every store, whether the JSON columns come as text or
already decoded."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from session_runtime import Session
from session_runtime.storage.json_columns import encode_checked
from session_runtime.storage.rows import session_from_row, session_to_row

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
