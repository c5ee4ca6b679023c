"""Keyset cursors for listings: opaque to callers, a position (created_at, id) to the store."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from .errors import ValidationError
from .models import Session
from .timestamps import from_micros, to_micros


def encode_cursor(session: Session) -> str:
    """An opaque keyset position: the last item's creation time and id."""
    raw = f"{to_micros(session.created_at)}:{session.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros_text, session_id = raw.split(":", 1)
        moment = from_micros(int(micros_text))
        if not session_id:
            raise ValueError("empty id")
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError, OSError):
        raise ValidationError.at("cursor", "not a cursor this server issued") from None
    return moment, session_id
