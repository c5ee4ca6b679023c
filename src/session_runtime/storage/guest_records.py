"""The guest tables, for both SQL stores: join links, share links, own sessions, erasure.

A part of ``SqliteStore`` and ``PostgresStore`` (mixed in, through ``sqlite_guests`` and
``postgres_guests``, which add what each engine does of its own). Every write is one plan
(``sql_plan``) that the store runs in one transaction of its own write path: SQLite's one
writer, or a pooled PostgreSQL connection. A keyed write looks for its key first and keeps it,
with its response, in that same transaction (``_run_write``). Redeeming a join link locks the
link's row on PostgreSQL (``FOR UPDATE``), so concurrent joins on any node never take more
places than its cap; SQLite's one writer runs one transaction at a time anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from ..domain.errors import NotFoundError
from ..domain.guest_store import TokenIssuer
from ..domain.guests import GuestErasure, JoinLink, ShareLink
from ..domain.idempotency import JOIN_CALLER_PREFIX, IdempotencyClaim
from ..domain.models import Session
from ..domain.timestamps import to_micros
from ..domain.tokens import TokenRecord
from .guest_rows import ACTIVE_FIRST, JOIN_LINKS, SHARE_LINKS
from .idempotency_sql import joined_guest_marker, keyed_result_record
from .reporting_sql import qmark
from .rows import SESSION_COLUMNS, TOKEN_INSERT, RowMapping, session_from_row, token_to_row
from .sql_base import SqlStoreBase, WritePlan, insert_plan
from .sql_plan import Plan, Statement

LinkT = TypeVar("LinkT", JoinLink, ShareLink)


class GuestRecords(SqlStoreBase):
    """The ``GuestStore`` methods, over a store's primitives (``SqlStoreBase``)."""

    def _erased(self, project_id: str, session_ids: Sequence[str]) -> Iterable[Statement]:
        """What else the store does, in the erasing transaction, for the sessions it deleted."""
        raise NotImplementedError

    # -- join links -----------------------------------------------------------------------

    async def insert_join_link(
        self, link: JoinLink, *, idempotency: IdempotencyClaim[JoinLink] | None = None
    ) -> None:
        self._refuse_unstorable({"eventId": link.event_id, "label": link.label})
        record = keyed_result_record(idempotency, link, project_id=link.project_id)
        sql = JOIN_LINKS.insert_sql("join_links", qmark)
        conflict = f"join link {link.id!r} already exists"
        await self._run_write(
            insert_plan(sql, JOIN_LINKS.to_row(link), conflict, record), idempotency
        )

    async def list_join_links(self, project_id: str) -> list[JoinLink]:
        rows = await self._read_rows(
            f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE project_id = ? "
            "ORDER BY created_at, id",
            (project_id,),
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
        if self._cannot_hold(project_id, link_id):
            return None
        plan = _revoke_plan(
            JOIN_LINKS, "join_links", {"id": link_id, "project_id": project_id}, revoked_at
        )
        return await self._run_write(_kept(plan, idempotency, project_id), idempotency)

    async def find_join_link(self, code: str) -> JoinLink | None:
        row = await self._read_row(
            f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE code = ?", (code,)
        )
        return None if row is None else JOIN_LINKS.from_row(row)

    async def redeem_join_link(
        self,
        code: str,
        issue: TokenIssuer,
        *,
        idempotency: IdempotencyClaim[tuple[JoinLink, TokenRecord]] | None = None,
    ) -> tuple[JoinLink, TokenRecord]:
        if self._cannot_hold(code):
            raise NotFoundError.of("join link", code)
        # The key is resolved before the link's rules: a retried join answers the guest it
        # made even once the link is full or revoked.
        return await self._run_write(self._redeem_plan(code, issue, idempotency), idempotency)

    def _redeem_plan(
        self,
        code: str,
        issue: TokenIssuer,
        idempotency: IdempotencyClaim[tuple[JoinLink, TokenRecord]] | None,
    ) -> WritePlan[tuple[JoinLink, TokenRecord]]:
        rows = yield Statement(
            f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE code = ?{self.dialect.lock_rows}",
            (code,),
        )
        if not rows:
            raise NotFoundError.of("join link", code)
        link = JOIN_LINKS.from_row(rows[0])
        token = issue(link)  # raises to refuse: nothing is written
        yield Statement(
            "UPDATE join_links SET joined_count = joined_count + 1 WHERE id = ?", (link.id,)
        )
        yield Statement(
            TOKEN_INSERT, token_to_row(token), conflict=f"token {token.id!r} already exists"
        )
        joined = link.model_copy(update={"joined_count": link.joined_count + 1}), token
        return joined, keyed_result_record(idempotency, joined, project_id=link.project_id)

    # -- the sessions of one creator ------------------------------------------------------

    async def list_own_sessions(
        self, project_id: str, created_by: str, limit: int
    ) -> list[Session]:
        rows = await self._read_rows(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND created_by = ? "
            f"{ACTIVE_FIRST} LIMIT ?",
            (project_id, created_by, limit),
        )
        return [session_from_row(row) for row in rows]

    # -- share links ----------------------------------------------------------------------

    async def insert_share_link(
        self, share: ShareLink, *, idempotency: IdempotencyClaim[ShareLink] | None = None
    ) -> None:
        record = keyed_result_record(
            idempotency, share, project_id=share.project_id, session_id=share.session_id
        )
        sql = SHARE_LINKS.insert_sql("share_links", qmark)
        conflict = f"share link {share.id!r} already exists"
        plan = insert_plan(sql, SHARE_LINKS.to_row(share), conflict, record)
        await self._run_write(plan, idempotency)

    async def find_share_link(self, code_hash: str) -> ShareLink | None:
        row = await self._read_row(
            f"SELECT {SHARE_LINKS.columns} FROM share_links WHERE code_hash = ?", (code_hash,)
        )
        return None if row is None else SHARE_LINKS.from_row(row)

    async def list_share_links(self, project_id: str, session_id: str) -> list[ShareLink]:
        rows = await self._read_rows(
            f"SELECT {SHARE_LINKS.columns} FROM share_links "
            "WHERE session_id = ? AND project_id = ? ORDER BY created_at, id",
            (session_id, project_id),
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
        if self._cannot_hold(project_id, session_id, share_id):
            return None
        key = {"id": share_id, "project_id": project_id, "session_id": session_id}
        plan = _revoke_plan(SHARE_LINKS, "share_links", key, revoked_at)
        return await self._run_write(_kept(plan, idempotency, project_id, session_id), idempotency)

    # -- erasure --------------------------------------------------------------------------

    async def erase_guest(
        self,
        project_id: str,
        guest_id: str,
        token_id: str,
        *,
        idempotency: IdempotencyClaim[GuestErasure] | None = None,
    ) -> GuestErasure:
        if self._cannot_hold(project_id, guest_id, token_id):
            return GuestErasure(guest_id=guest_id, session_ids=(), share_links=0, tokens=0)
        plan = self._erase_plan(project_id, guest_id, token_id, idempotency)
        return await self._run_write(plan, idempotency)

    def _erase_plan(
        self,
        project_id: str,
        guest_id: str,
        token_id: str,
        idempotency: IdempotencyClaim[GuestErasure] | None,
    ) -> WritePlan[GuestErasure]:
        dialect = self.dialect
        counted = yield Statement(
            "SELECT count(*) FROM share_links WHERE project_id = ? AND session_id IN "
            "(SELECT id FROM sessions WHERE project_id = ? AND created_by = ?)",
            (project_id, project_id, guest_id),
        )
        # The share links go with their sessions, by the schema's trigger.
        rows = yield Statement(
            "DELETE FROM sessions WHERE project_id = ? AND created_by = ? RETURNING id",
            (project_id, guest_id),
        )
        session_ids = [row[0] for row in rows]
        yield from self._erased(project_id, session_ids)
        # Stored responses of keyed writes hold session data: the guest's keys, any kept
        # for its sessions, and the answer of the join that made it go with them.
        yield Statement(
            "DELETE FROM idempotency_keys WHERE caller = ? "
            f"OR (project_id = ? AND session_id {dialect.in_id_list})",
            (guest_id, project_id, dialect.id_list(session_ids)),
            counts=True,
        )
        yield Statement(
            "DELETE FROM idempotency_keys WHERE project_id = ? "
            f"AND caller LIKE '{JOIN_CALLER_PREFIX}%' AND {dialect.body_holds}",
            (project_id, joined_guest_marker(guest_id)),
            counts=True,
        )
        tokens = yield Statement(
            "DELETE FROM tokens WHERE id = ? AND project_id = ? AND kind = 'guest'",
            (token_id, project_id),
            counts=True,
        )
        erasure = GuestErasure(
            guest_id=guest_id,
            session_ids=tuple(sorted((project_id, session_id) for session_id in session_ids)),
            share_links=int(counted[0][0]),
            tokens=int(tokens),
        )
        if erasure.is_empty:  # nothing erased is answered 404, and 404s are not kept
            return erasure, None
        # Kept after the deletes above, so it outlives them; its body is counts only.
        return erasure, keyed_result_record(idempotency, erasure, project_id=project_id)


def _revoke_plan(
    mapping: RowMapping[LinkT], table: str, key: Mapping[str, str], revoked_at: datetime
) -> Plan[LinkT | None]:
    """Revoke the link whose columns hold ``key``; the first revocation's time stands."""
    where = " AND ".join(f"{column} = ?" for column in key)
    rows = yield Statement(
        f"UPDATE {table} SET revoked_at = coalesce(revoked_at, ?) "
        f"WHERE {where} RETURNING {mapping.columns}",
        (to_micros(revoked_at), *key.values()),
    )
    return mapping.from_row(rows[0]) if rows else None


def _kept(
    plan: Plan[LinkT | None],
    idempotency: IdempotencyClaim[LinkT] | None,
    project_id: str,
    session_id: str | None = None,
) -> WritePlan[LinkT | None]:
    """``plan``, keeping its link under the key; an unknown link (``None``) is not kept."""
    link = yield from plan
    if link is None:
        return None, None
    record = keyed_result_record(idempotency, link, project_id=project_id, session_id=session_id)
    return link, record
