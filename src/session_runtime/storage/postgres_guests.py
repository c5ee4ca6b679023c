"""The guest tables on PostgreSQL: join links, share links, own sessions, erasure.

A part of ``PostgresStore`` (mixed in), on its pool. Redeeming a join link locks the link's
row (``FOR UPDATE``), so concurrent joins on any node never take more places than its cap.
Erasing a guest announces each erased session on the change channel with version 0, so
subscribers on every node hear that it is gone. A keyed write takes its key's advisory lock,
looks for it, and keeps it with its response in the write's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from ..domain.errors import NotFoundError
from ..domain.guest_store import TokenIssuer
from ..domain.guests import GuestErasure, JoinLink, ShareLink
from ..domain.idempotency import IdempotencyClaim
from ..domain.limits import holds_nul, refuse_nul
from ..domain.models import Session
from ..domain.timestamps import to_micros
from ..domain.tokens import TokenRecord
from .guest_rows import (
    ACTIVE_FIRST,
    JOIN_LINKS,
    SHARE_LINKS,
)
from .idempotency_sql import (
    DELETE_JOINS_OF_GUEST_POSTGRES,
    joined_guest_marker,
    keyed_result_record,
    postgres_keep,
    postgres_resolve,
)
from .postgres_rows import TOKEN_COLUMNS, placeholders
from .postgres_schema import NOTIFY_CHANNEL
from .reporting_sql import numbered
from .rows import SESSION_COLUMNS, session_from_row, token_to_row

ERASED_VERSION = 0
"""The version a change notice carries for a session that was erased."""


class PostgresGuestRecords:
    """Join links, share links and erasure over the store's pool."""

    def _transaction(self, conflict: str | None = None) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError  # PostgresStore's

    def _check_open(self) -> None:
        raise NotImplementedError  # PostgresStore's

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        raise NotImplementedError  # PostgresStore's

    async def _fetch_one(self, sql: str, *params: Any) -> Any:
        raise NotImplementedError  # PostgresStore's

    async def _insert(self, sql: str, params: Sequence[Any], conflict: str) -> None:
        raise NotImplementedError  # PostgresStore's

    # -- join links -----------------------------------------------------------------------

    async def insert_join_link(
        self, link: JoinLink, *, idempotency: IdempotencyClaim[JoinLink] | None = None
    ) -> None:
        refuse_nul({"eventId": link.event_id, "label": link.label})
        record = keyed_result_record(idempotency, link, project_id=link.project_id)
        async with self._transaction(f"join link {link.id!r} already exists") as conn:
            await postgres_resolve(conn, idempotency)
            await conn.execute(
                JOIN_LINKS.insert_sql("join_links", numbered),
                *JOIN_LINKS.to_row(link),
            )
            await postgres_keep(conn, record)

    async def list_join_links(self, project_id: str) -> list[JoinLink]:
        rows = await self._fetch(
            f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE project_id = $1 "
            "ORDER BY created_at, id",
            project_id,
        )
        return [JOIN_LINKS.from_row(row) for row in rows]

    async def revoke_join_link(
        self,
        project_id: str,
        link_id: str,
        revoked_at: datetime,
        *,
        idempotency: IdempotencyClaim[JoinLink] | None = None,
    ) -> JoinLink | None:
        if holds_nul(project_id, link_id):
            self._check_open()
            return None
        async with self._transaction() as conn:
            await postgres_resolve(conn, idempotency)
            row = await conn.fetchrow(
                "UPDATE join_links SET revoked_at = coalesce(revoked_at, $3) "
                f"WHERE id = $1 AND project_id = $2 RETURNING {JOIN_LINKS.columns}",
                link_id,
                project_id,
                to_micros(revoked_at),
            )
            if row is None:
                return None
            link = JOIN_LINKS.from_row(row)
            await postgres_keep(conn, keyed_result_record(idempotency, link, project_id=project_id))
        return link

    async def find_join_link(self, code: str) -> JoinLink | None:
        row = await self._fetch_one(
            f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE code = $1", code
        )
        return None if row is None else JOIN_LINKS.from_row(row)

    async def redeem_join_link(
        self,
        code: str,
        issue: TokenIssuer,
        *,
        idempotency: IdempotencyClaim[tuple[JoinLink, TokenRecord]] | None = None,
    ) -> tuple[JoinLink, TokenRecord]:
        if holds_nul(code):
            self._check_open()
            raise NotFoundError.of("join link", code)
        async with self._transaction() as conn:
            # The key's lock before the link's row: a retried join answers the guest it made
            # even once the link is full or revoked.
            await postgres_resolve(conn, idempotency)
            row = await conn.fetchrow(
                f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE code = $1 FOR UPDATE", code
            )
            if row is None:
                raise NotFoundError.of("join link", code)
            link = JOIN_LINKS.from_row(row)
            token = issue(link)  # raises to refuse: the transaction rolls back
            await conn.execute(
                "UPDATE join_links SET joined_count = joined_count + 1 WHERE id = $1", link.id
            )
            await conn.execute(
                f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ({placeholders(10)})",
                *token_to_row(token),
            )
            joined = link.model_copy(update={"joined_count": link.joined_count + 1}), token
            await postgres_keep(
                conn, keyed_result_record(idempotency, joined, project_id=link.project_id)
            )
        return joined

    # -- the sessions of one creator ------------------------------------------------------

    async def list_own_sessions(
        self, project_id: str, created_by: str, limit: int
    ) -> list[Session]:
        rows = await self._fetch(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = $1 AND created_by = $2 "
            f"{ACTIVE_FIRST} LIMIT $3",
            project_id,
            created_by,
            limit,
        )
        return [session_from_row(row) for row in rows]

    # -- share links ----------------------------------------------------------------------

    async def insert_share_link(
        self, share: ShareLink, *, idempotency: IdempotencyClaim[ShareLink] | None = None
    ) -> None:
        record = keyed_result_record(
            idempotency, share, project_id=share.project_id, session_id=share.session_id
        )
        async with self._transaction(f"share link {share.id!r} already exists") as conn:
            await postgres_resolve(conn, idempotency)
            await conn.execute(
                SHARE_LINKS.insert_sql("share_links", numbered),
                *SHARE_LINKS.to_row(share),
            )
            await postgres_keep(conn, record)

    async def find_share_link(self, code_hash: str) -> ShareLink | None:
        row = await self._fetch_one(
            f"SELECT {SHARE_LINKS.columns} FROM share_links WHERE code_hash = $1", code_hash
        )
        return None if row is None else SHARE_LINKS.from_row(row)

    async def list_share_links(self, project_id: str, session_id: str) -> list[ShareLink]:
        rows = await self._fetch(
            f"SELECT {SHARE_LINKS.columns} FROM share_links "
            "WHERE session_id = $1 AND project_id = $2 ORDER BY created_at, id",
            session_id,
            project_id,
        )
        return [SHARE_LINKS.from_row(row) for row in rows]

    async def revoke_share_link(
        self,
        project_id: str,
        session_id: str,
        share_id: str,
        revoked_at: datetime,
        *,
        idempotency: IdempotencyClaim[ShareLink] | None = None,
    ) -> ShareLink | None:
        if holds_nul(project_id, session_id, share_id):
            self._check_open()
            return None
        async with self._transaction() as conn:
            await postgres_resolve(conn, idempotency)
            row = await conn.fetchrow(
                "UPDATE share_links SET revoked_at = coalesce(revoked_at, $3) WHERE id = $1 "
                f"AND project_id = $2 AND session_id = $4 RETURNING {SHARE_LINKS.columns}",
                share_id,
                project_id,
                to_micros(revoked_at),
                session_id,
            )
            if row is None:
                return None
            share = SHARE_LINKS.from_row(row)
            await postgres_keep(
                conn,
                keyed_result_record(
                    idempotency, share, project_id=project_id, session_id=session_id
                ),
            )
        return share

    # -- erasure --------------------------------------------------------------------------

    async def erase_guest(
        self,
        project_id: str,
        guest_id: str,
        token_id: str,
        *,
        idempotency: IdempotencyClaim[GuestErasure] | None = None,
    ) -> GuestErasure:
        if holds_nul(project_id, guest_id, token_id):
            self._check_open()
            return GuestErasure(guest_id=guest_id, session_ids=(), share_links=0, tokens=0)
        async with self._transaction() as conn:
            await postgres_resolve(conn, idempotency)
            share_links = await conn.fetchval(
                "SELECT count(*) FROM share_links WHERE project_id = $1 AND session_id IN "
                "(SELECT id FROM sessions WHERE project_id = $1 AND created_by = $2)",
                project_id,
                guest_id,
            )
            # The share links go with their sessions, by the schema's trigger.
            rows = await conn.fetch(
                "DELETE FROM sessions WHERE project_id = $1 AND created_by = $2 RETURNING id",
                project_id,
                guest_id,
            )
            for row in rows:
                await conn.execute(
                    "SELECT pg_notify($1, json_build_array($2::text, $3::text, $4::int)::text)",
                    NOTIFY_CHANNEL,
                    project_id,
                    row[0],
                    ERASED_VERSION,
                )
            # Stored responses of keyed writes hold session data: the guest's keys, any kept
            # for its sessions, and the answer of the join that made it go with them.
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE caller = $1 "
                "OR (project_id = $2 AND session_id = ANY($3::text[]))",
                guest_id,
                project_id,
                [row[0] for row in rows],
            )
            await conn.execute(
                DELETE_JOINS_OF_GUEST_POSTGRES, project_id, joined_guest_marker(guest_id)
            )
            status = await conn.execute(
                "DELETE FROM tokens WHERE id = $1 AND project_id = $2 AND kind = 'guest'",
                token_id,
                project_id,
            )
            erasure = GuestErasure(
                guest_id=guest_id,
                session_ids=tuple(sorted((project_id, row[0]) for row in rows)),
                share_links=int(share_links),
                tokens=int(status.split()[-1]),
            )
            if not erasure.is_empty:  # nothing erased is answered 404, and 404s are not kept
                # Kept after the deletes above, so it outlives them; its body is counts only.
                await postgres_keep(
                    conn, keyed_result_record(idempotency, erasure, project_id=project_id)
                )
        return erasure
