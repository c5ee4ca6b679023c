"""``--url`` and ``--token``: read a running server through the Python SDK instead of the file.

Without ``--url`` a command works on the database file as a trusted operator; with it, it asks
the server as the token allows (a guest token sees its own sessions only), as a dashboard
elsewhere on the network would. ``$SESSION_RUNTIME_URL`` and ``$SESSION_RUNTIME_TOKEN`` give
both, as they do to the SDK's examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

from ..client import AsyncProjectClient, AsyncSessionRuntimeClient
from ..service import SessionService
from .errors import EXIT_USAGE, CliError
from .options import option_without_default
from .runner import run

T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    option_without_default(
        "--url",
        envvar="SESSION_RUNTIME_URL",
        help="Ask this server (http://host:port) instead of reading the database file.",
    ),
]
TokenOption = Annotated[
    str | None,
    option_without_default(
        "--token",
        envvar="SESSION_RUNTIME_TOKEN",
        help="The bearer token for --url (better given as $SESSION_RUNTIME_TOKEN).",
    ),
]


def require_token(token: str | None) -> str:
    """The token ``--url`` needs, or a usage error that says how to give it."""
    if not token:
        raise CliError(
            "--url needs a token: --token or $SESSION_RUNTIME_TOKEN", exit_code=EXIT_USAGE
        )
    return token


def run_on_server(
    url: str,
    token: str | None,
    project_id: str,
    operation: Callable[[AsyncProjectClient], Awaitable[T]],
) -> T:
    """Run ``operation`` on the SDK's view of ``project_id`` at the server ``url``."""
    bearer = require_token(token)

    async def main() -> T:
        async with AsyncSessionRuntimeClient(url, bearer) as client:
            return await operation(client.project(project_id))

    return asyncio.run(main())


def run_on_file_or_server(
    database: Path | None,
    url: str | None,
    token: str | None,
    project_id: str,
    on_file: Callable[[SessionService], Awaitable[T]],
    on_server: Callable[[AsyncProjectClient], Awaitable[T]],
) -> T:
    """``on_server`` through the SDK when ``--url`` is given, else ``on_file`` on the database.

    The one place where a ``sessions`` command chooses between the two sources it can read.
    """
    if url is not None:
        return run_on_server(url, token, project_id, on_server)
    return run(database, on_file)
