"""The guest tables on SQLite: join links, share links, own sessions, erasure.

A part of ``SqliteStore`` (mixed in), using its one writer and its readers: every write here
is one transaction of the writer's group commit, as every other write of the store. A keyed
write looks for its key first and keeps it, with its response, in that same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ..domain.errors import FailedPreconditionError, NotFoundError
from ..domain.guest_store import TokenIssuer
from ..domain.guests import GuestErasure, JoinLink, ShareLink
from ..domain.idempotency import IdempotencyClaim
from ..domain.models import Session
from ..domain.timestamps import to_micros
from ..domain.tokens import TokenRecord
from .guest_rows import (
    ACTIVE_FIRST,
    JOIN_LINKS,
    SHARE_LINKS,
)
from .idempotency_sql import (
    DELETE_JOINS_OF_GUEST_SQLITE,
    joined_guest_marker,
    keyed_result_record,
    sqlite_keep,
    sqlite_resolve,
)
from .reporting_sql import qmark
from .rows import SESSION_COLUMNS, session_from_row, token_to_row
from .session_cache import SessionCache
from .sqlite_rows import TOKEN_COLUMNS

T = TypeVar("T")


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class SqliteGuestRecords:
    """Join links, share links and erasure over the store's writer and readers."""

    _cache: SessionCache

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    async def _read_in_thread(self, op: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's

    def _fetch_one(self, sql: str, params: Sequence[Any]) -> Any:
        raise NotImplementedError  # SqliteStore's

    async def _insert(self, sql: str, params: Sequence[Any], conflict: str) -> None:
        raise NotImplementedError  # SqliteStore's

    # -- join links -----------------------------------------------------------------------

    async def insert_join_link(
        self, link: JoinLink, *, idempotency: IdempotencyClaim[JoinLink] | None = None
    ) -> None:
        record = keyed_result_record(idempotency, link, project_id=link.project_id)

        def op(conn: sqlite3.Connection) -> None:
            sqlite_resolve(conn, idempotency)
            try:
                conn.execute(
                    JOIN_LINKS.insert_sql("join_links", qmark),
                    JOIN_LINKS.to_row(link),
                )
            except sqlite3.IntegrityError:
                raise FailedPreconditionError(f"join link {link.id!r} already exists") from None
            sqlite_keep(conn, record)

        await self._write(op)

    async def list_join_links(self, project_id: str) -> list[JoinLink]:
        rows = await self._read_in_thread(
            lambda conn: conn.execute(
                f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE project_id = ? "
                "ORDER BY created_at, id",
                (project_id,),
            ).fetchall()
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
        def op(conn: sqlite3.Connection) -> JoinLink | None:
            sqlite_resolve(conn, idempotency)
            row = conn.execute(
                "UPDATE join_links SET revoked_at = coalesce(revoked_at, ?) "
                f"WHERE id = ? AND project_id = ? RETURNING {JOIN_LINKS.columns}",
                (to_micros(revoked_at), link_id, project_id),
            ).fetchone()
            if row is None:
                return None
            link = JOIN_LINKS.from_row(row)
            sqlite_keep(conn, keyed_result_record(idempotency, link, project_id=project_id))
            return link

        return await self._write(op)

    async def find_join_link(self, code: str) -> JoinLink | None:
        row = self._fetch_one(
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
        def op(conn: sqlite3.Connection) -> tuple[JoinLink, TokenRecord]:
            # Before the link's rules: a retried join answers the guest it made even once
            # the link is full or revoked.
            sqlite_resolve(conn, idempotency)
            row = conn.execute(
                f"SELECT {JOIN_LINKS.columns} FROM join_links WHERE code = ?", (code,)
            ).fetchone()
            if row is None:
                raise NotFoundError.of("join link", code)
            link = JOIN_LINKS.from_row(row)
            token = issue(link)  # raises to refuse: nothing written
            conn.execute(
                "UPDATE join_links SET joined_count = joined_count + 1 WHERE id = ?", (link.id,)
            )
            try:
                conn.execute(
                    f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ({_marks(10)})",
                    token_to_row(token),
                )
            except sqlite3.IntegrityError:
                raise FailedPreconditionError(f"token {token.id!r} already exists") from None
            joined = link.model_copy(update={"joined_count": link.joined_count + 1}), token
            sqlite_keep(conn, keyed_result_record(idempotency, joined, project_id=link.project_id))
            return joined

        return await self._write(op)

    # -- the sessions of one creator ------------------------------------------------------

    async def list_own_sessions(
        self, project_id: str, created_by: str, limit: int
    ) -> list[Session]:
        rows = await self._read_in_thread(
            lambda conn: conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND created_by = ? "
                f"{ACTIVE_FIRST} LIMIT ?",
                (project_id, created_by, limit),
            ).fetchall()
        )
        return [session_from_row(row) for row in rows]

    # -- share links ----------------------------------------------------------------------

    async def insert_share_link(
        self, share: ShareLink, *, idempotency: IdempotencyClaim[ShareLink] | None = None
    ) -> None:
        record = keyed_result_record(
            idempotency, share, project_id=share.project_id, session_id=share.session_id
        )

        def op(conn: sqlite3.Connection) -> None:
            sqlite_resolve(conn, idempotency)
            try:
                conn.execute(
                    SHARE_LINKS.insert_sql("share_links", qmark),
                    SHARE_LINKS.to_row(share),
                )
            except sqlite3.IntegrityError:
                raise FailedPreconditionError(f"share link {share.id!r} already exists") from None
            sqlite_keep(conn, record)

        await self._write(op)

    async def find_share_link(self, code_hash: str) -> ShareLink | None:
        row = self._fetch_one(
            f"SELECT {SHARE_LINKS.columns} FROM share_links WHERE code_hash = ?", (code_hash,)
        )
        return None if row is None else SHARE_LINKS.from_row(row)

    async def list_share_links(self, project_id: str, session_id: str) -> list[ShareLink]:
        rows = await self._read_in_thread(
            lambda conn: conn.execute(
                f"SELECT {SHARE_LINKS.columns} FROM share_links "
                "WHERE session_id = ? AND project_id = ? ORDER BY created_at, id",
                (session_id, project_id),
            ).fetchall()
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
        def op(conn: sqlite3.Connection) -> ShareLink | None:
            sqlite_resolve(conn, idempotency)
            row = conn.execute(
                "UPDATE share_links SET revoked_at = coalesce(revoked_at, ?) "
                "WHERE id = ? AND project_id = ? AND session_id = ? "
                f"RETURNING {SHARE_LINKS.columns}",
                (to_micros(revoked_at), share_id, project_id, session_id),
            ).fetchone()
            if row is None:
                return None
            share = SHARE_LINKS.from_row(row)
            sqlite_keep(
                conn,
                keyed_result_record(
                    idempotency, share, project_id=project_id, session_id=session_id
                ),
            )
            return share

        return await self._write(op)

    # -- erasure --------------------------------------------------------------------------

    async def erase_guest(
        self,
        project_id: str,
        guest_id: str,
        token_id: str,
        *,
        idempotency: IdempotencyClaim[GuestErasure] | None = None,
    ) -> GuestErasure:
        cache = self._cache

        def op(conn: sqlite3.Connection) -> GuestErasure:
            sqlite_resolve(conn, idempotency)
            share_links = conn.execute(
                "SELECT count(*) FROM share_links WHERE project_id = ? AND session_id IN "
                "(SELECT id FROM sessions WHERE project_id = ? AND created_by = ?)",
                (project_id, project_id, guest_id),
            ).fetchone()[0]
            # The share links go with their sessions, by the schema's trigger.
            rows = conn.execute(
                "DELETE FROM sessions WHERE project_id = ? AND created_by = ? RETURNING id",
                (project_id, guest_id),
            ).fetchall()
            for (session_id,) in rows:
                cache.pop(session_id, None)
            # Stored responses of keyed writes hold session data: the guest's keys, any kept
            # for its sessions, and the answer of the join that made it go with them.
            conn.execute("DELETE FROM idempotency_keys WHERE caller = ?", (guest_id,))
            conn.executemany(
                "DELETE FROM idempotency_keys WHERE project_id = ? AND session_id = ?",
                [(project_id, row[0]) for row in rows],
            )
            conn.execute(DELETE_JOINS_OF_GUEST_SQLITE, (project_id, joined_guest_marker(guest_id)))
            tokens = conn.execute(
                "DELETE FROM tokens WHERE id = ? AND project_id = ? AND kind = 'guest'",
                (token_id, project_id),
            ).rowcount
            erasure = GuestErasure(
                guest_id=guest_id,
                session_ids=tuple(sorted((project_id, row[0]) for row in rows)),
                share_links=share_links,
                tokens=tokens,
            )
            if not erasure.is_empty:  # nothing erased is answered 404, and 404s are not kept
                # Kept after the deletes above, so it outlives them; its body is counts only.
                sqlite_keep(conn, keyed_result_record(idempotency, erasure, project_id=project_id))
            return erasure

        return await self._write(op)
