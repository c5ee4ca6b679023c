"""The rim between asyncpg and the store: connections, their set-up, and error translation.

Everything that keeps PostgreSQL from answering becomes ``UnavailableError`` here (network and
protocol failures, timeouts, a server shutting down or out of connections), so the service sees
one error it can answer ``503`` with, and a caller may retry. Constraint violations are about
the data, not the server: they become ``FailedPreconditionError``, as in SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import asyncpg
import orjson

from ..domain.errors import FailedPreconditionError, UnavailableError

OUTAGES: Final[tuple[type[BaseException], ...]] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresError,
    asyncpg.exceptions.InternalClientError,
)
"""What "the database cannot be reached, or cannot do it now" looks like from asyncpg
(``ConnectionDoesNotExistError``, ``CannotConnectNowError`` and every other
``PostgresConnectionError`` are among them)."""


@contextmanager
def storage_errors(conflict: str | None = None) -> Iterator[None]:
    """Translate asyncpg's errors into ours (``conflict``: what a duplicate key means).

    Our own errors, raised by a mutation inside a transaction, pass through untouched.
    """
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise FailedPreconditionError(conflict or f"already exists: {exc}") from exc
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise FailedPreconditionError(f"refused by the schema: {exc}") from exc
    except OUTAGES as exc:
        raise UnavailableError(f"storage error: {type(exc).__name__}: {exc}") from exc


def _json_text(value: str) -> str:
    # The store encodes JSON itself (``encode_checked``) so that the size limit is checked on
    # the exact text sent; the codec passes it through.
    if not isinstance(value, str):
        raise TypeError("json parameters are JSON text the store encoded")
    return value


async def init_connection(conn: Any) -> None:
    """Every connection decodes ``json`` with orjson and takes JSON text to write it."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=_json_text,
            decoder=orjson.loads,
            format="text",
        )


async def keep_session(conn: Any) -> None:
    """Reset nothing on release beyond the rollback asyncpg always does first.

    Pooled connections never ``SET``, ``LISTEN``, hold session-level advisory locks or keep
    cursors (a listener has a connection of its own), so asyncpg's default reset query would
    only cost one more round trip per operation.
    """


async def check_encoding(conn: Any) -> None:
    """Refuse a database that is not UTF-8: JSON text would be mangled or refused."""
    encoding = await conn.fetchval("SHOW server_encoding")
    if encoding != "UTF8":
        raise FailedPreconditionError(
            f"the database's encoding is {encoding}; session-runtime needs UTF8",
            details={"serverEncoding": encoding},
        )
