"""Keyset cursors: opaque, URL-safe, and exact to the microsecond."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from session_runtime import Session, ValidationError
from session_runtime.domain.cursor import decode_cursor, encode_cursor

MakeSession = Callable[..., Session]


@pytest.mark.parametrize(
    ("moment", "session_id"),
    [
        (datetime(2026, 1, 15, 9, 30, 0, 123_456, tzinfo=UTC), "abcDEF123_-xyz"),
        (datetime(1970, 1, 1, tzinfo=UTC), "s"),
        (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "id:with:colons"),
    ],
)
def test_a_cursor_decodes_to_the_position_it_encodes(
    make_session: MakeSession, moment: datetime, session_id: str
) -> None:
    session = make_session(id=session_id, created_at=moment, updated_at=moment)

    cursor = encode_cursor(session)

    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert decode_cursor(cursor) == (moment, session_id)


def test_cursors_of_tied_sessions_differ(make_session: MakeSession) -> None:
    first, second = make_session(id="a"), make_session(id="b")
    assert first.created_at == second.created_at
    assert encode_cursor(first) != encode_cursor(second)


def encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!",
        "a",
        encoded(b"no separator"),
        encoded(b"123:"),
        encoded(b":abc"),
        encoded(b"1.5:abc"),
        encoded(b"10" * 20 + b":abc"),
        encoded(b"-99999999999999999:abc"),
        encoded(b"\xc3\x28:abc"),
    ],
)
def test_anything_else_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_cursor(cursor)
    assert caught.value.details == [
        {"path": "cursor", "message": "not a cursor this server issued"}
    ]
