"""Guests who arrive by a link: join links, share links, erasure, and their rules.

- A **join link** lets anyone holding its code become an anonymous guest of one project
  (optionally one event): ``join`` issues a guest token that expires. A link may expire, may
  cap how many guests join, and may be revoked; each refusal has its own clear message.
- A **share link** shows the ``outputs`` of one completed session to anyone holding its code,
  until it expires or is revoked; never the ``inputs``, which may hold personal data.
- **Erasure** removes one guest: every session it created, their share links, and its token.

Codes are 192 random bits, URL-safe. A join code is kept as it is (the dashboard shows its URL
and QR code again); a share code is shown once and kept only as a hash, like a token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt, StrictStr

from .errors import FailedPreconditionError, ValidationError
from .models import MAX_NAME_LENGTH, Identifier, _Model, _refuse_nul
from .tokens import TokenRecord

GUEST_PREFIX = "guest:"
CODE_BYTES = 24
MAX_CODE_LENGTH = 128
MAX_LIFETIME = timedelta(days=366)


def new_code() -> str:
    """An unguessable, URL-safe code: 192 random bits in 32 characters, never starting with
    ``-`` (a command line would take it for an option)."""
    while True:
        candidate = secrets.token_urlsafe(CODE_BYTES)
        if candidate[0] != "-":
            return candidate


def guest_id_of(token_id: str) -> str:
    """The ``guestId`` of a guest token: what ``createdBy`` holds for its sessions."""
    return GUEST_PREFIX + token_id


def token_id_of_guest(guest_id: str) -> str:
    """The token id inside a ``guestId``; ``ValidationError`` for anything else."""
    if not guest_id.startswith(GUEST_PREFIX) or len(guest_id) <= len(GUEST_PREFIX):
        raise ValidationError.at("guestId", f"must look like {GUEST_PREFIX}<id>")
    return guest_id[len(GUEST_PREFIX) :]


class JoinLink(_Model):
    """A join link as stored; ``code`` is what its URL and QR code carry."""

    id: str
    project_id: str
    event_id: str | None = None
    label: str | None = None
    code: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    max_guests: int | None = None
    joined_count: int = 0
    revoked_at: datetime | None = None

    def refusal(self, now: datetime) -> FailedPreconditionError | None:
        """Why nobody may join by this link now, or ``None`` when one may."""
        if self.revoked_at is not None:
            return FailedPreconditionError(
                "this join link was revoked: ask the organiser for a new one",
                details={"reason": "revoked", "linkId": self.id},
            )
        if self.expires_at is not None and now >= self.expires_at:
            return FailedPreconditionError(
                "this join link has expired: ask the organiser for a new one",
                details={"reason": "expired", "linkId": self.id},
            )
        if self.max_guests is not None and self.joined_count >= self.max_guests:
            return FailedPreconditionError(
                f"this join link is full: all {self.max_guests} places are taken",
                details={"reason": "full", "linkId": self.id, "maxGuests": self.max_guests},
            )
        return None


Label = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_refuse_nul)
]
Lifetime = Annotated[StrictInt, Field(ge=1, le=int(MAX_LIFETIME.total_seconds()))]


class CreateJoinLinkInput(_Model):
    """``POST /v1/projects/{p}/links``: every field optional."""

    event_id: Identifier | None = None
    label: Label | None = None
    expires_in_seconds: Lifetime | None = None
    max_guests: Annotated[StrictInt, Field(ge=1, le=10_000_000)] | None = None


class CreateShareLinkInput(_Model):
    """``POST .../sessions/{s}/shares``: how long the link lives (the server's default if
    omitted)."""

    expires_in_seconds: Lifetime | None = None


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A share link as stored: only the hash of its code."""

    id: str
    project_id: str
    session_id: str
    code_hash: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class JoinedGuest:
    """What ``join`` hands out: the token's secret (shown once) and its record."""

    secret: str
    token: TokenRecord
    link: JoinLink

    @property
    def guest_id(self) -> str:
        return guest_id_of(self.token.id)


@dataclass(frozen=True, slots=True)
class GuestErasure:
    """What erasing one guest removed."""

    guest_id: str
    session_ids: tuple[tuple[str, str], ...]
    share_links: int
    tokens: int

    @property
    def sessions(self) -> int:
        return len(self.session_ids)

    @property
    def is_empty(self) -> bool:
        return not self.session_ids and not self.share_links and not self.tokens


@dataclass(frozen=True, slots=True)
class SessionErased:
    """The last thing a subscriber of an erased session hears: it is gone for good."""

    project_id: str
    session_id: str


__all__ = [
    "MAX_CODE_LENGTH",
    "CreateJoinLinkInput",
    "CreateShareLinkInput",
    "GuestErasure",
    "JoinLink",
    "JoinedGuest",
    "SessionErased",
    "ShareLink",
    "guest_id_of",
    "new_code",
    "token_id_of_guest",
]
