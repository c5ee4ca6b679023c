"""Access tokens: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .auth import Guest, Member, Principal, Role
from .ids import new_id

__all__ = [
    "TOKEN_PREFIX",
    "TokenKind",
    "TokenRecord",
    "hash_token",
    "looks_like_token",
    "new_id",
    "new_secret",
]

TOKEN_PREFIX = "srt_"


def new_secret() -> str:
    """A bearer token: 256 random bits, with a prefix that secret scanners can recognise."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    """The stored form of a token. A fast hash suffices: tokens carry 256 random bits."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(text: str) -> bool:
    return text.startswith(TOKEN_PREFIX) and 20 <= len(text) <= 200


class TokenKind(StrEnum):
    MEMBER = "member"
    GUEST = "guest"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is stored of a token: never the token itself."""

    id: str
    project_id: str
    kind: TokenKind
    token_hash: str
    created_at: datetime
    user: str | None = None
    role: Role | None = None
    event_id: str | None = None
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def principal(self) -> Principal:
        if self.kind is TokenKind.MEMBER:
            assert self.user is not None and self.role is not None
            return Member(
                project_id=self.project_id, user=self.user, role=self.role, token_id=self.id
            )
        return Guest(project_id=self.project_id, token_id=self.id, event_id=self.event_id)
