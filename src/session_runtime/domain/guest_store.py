"""What the guest operations need from a store, beside the ``Store`` protocol's sessions.

Every method is one transaction. ``redeem_join_link`` is the one with a rule inside: it locks
the link, lets ``issue`` decide (it raises to refuse) and, when it accepts, counts the guest
and stores its token in the same transaction, so a link's cap holds under any concurrency.
The writes take an optional ``idempotency`` claim, resolved and kept in their transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from .guests import GuestErasure, JoinLink, ShareLink
from .idempotency import IdempotencyClaim
from .models import Session
from .tokens import TokenRecord

TokenIssuer = Callable[[JoinLink], TokenRecord]
"""Given the locked link, the guest token to store; raises to refuse (nothing is written)."""


class GuestStore(Protocol):
    async def insert_join_link(
        self, link: JoinLink, *, idempotency: IdempotencyClaim[JoinLink] | None = None
    ) -> None: ...

    async def list_join_links(self, project_id: str) -> list[JoinLink]:
        """The project's join links, oldest first."""
        ...

    async def revoke_join_link(
        self,
        project_id: str,
        link_id: str,
        revoked_at: datetime,
        *,
        idempotency: IdempotencyClaim[JoinLink] | None = None,
    ) -> JoinLink | None:
        """Revoke (the first revocation's time stands); ``None`` when no such link."""
        ...

    async def find_join_link(self, code: str) -> JoinLink | None: ...

    async def redeem_join_link(
        self,
        code: str,
        issue: TokenIssuer,
        *,
        idempotency: IdempotencyClaim[tuple[JoinLink, TokenRecord]] | None = None,
    ) -> tuple[JoinLink, TokenRecord]:
        """Count one more guest and store its token; ``NotFoundError`` for an unknown code."""
        ...

    async def list_own_sessions(
        self, project_id: str, created_by: str, limit: int
    ) -> list[Session]:
        """The sessions ``created_by`` made in the project: active first, then newest first."""
        ...

    async def insert_share_link(
        self, share: ShareLink, *, idempotency: IdempotencyClaim[ShareLink] | None = None
    ) -> None: ...

    async def find_share_link(self, code_hash: str) -> ShareLink | None: ...

    async def list_share_links(self, project_id: str, session_id: str) -> list[ShareLink]: ...

    async def revoke_share_link(
        self,
        project_id: str,
        session_id: str,
        share_id: str,
        revoked_at: datetime,
        *,
        idempotency: IdempotencyClaim[ShareLink] | None = None,
    ) -> ShareLink | None:
        """Revoke a share link of that session; ``None`` when it has no such link."""
        ...

    async def erase_guest(
        self,
        project_id: str,
        guest_id: str,
        token_id: str,
        *,
        idempotency: IdempotencyClaim[GuestErasure] | None = None,
    ) -> GuestErasure:
        """Delete every session ``guest_id`` created in the project, their share links, and
        the guest token ``token_id``; return what went."""
        ...
