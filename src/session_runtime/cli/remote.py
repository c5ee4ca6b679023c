"""``--url`` and ``--token``: read a running server through the Python SDK instead of the file.

Without ``--url`` a command works on the database file as a trusted operator; with it, it asks
the server as the token allows (a guest token sees its own sessions only), as a dashboard
elsewhere on the network would. ``$SESSION_RUNTIME_URL`` and ``$SESSION_RUNTIME_TOKEN`` give
both, as they do to the SDK's examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from ..client import AsyncProjectClient, AsyncSessionRuntimeClient
from .errors import EXIT_USAGE, CliError

T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="SESSION_RUNTIME_URL",
        help="Ask this server (http://host:port) instead of reading the database file.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SESSION_RUNTIME_TOKEN",
        help="The bearer token for --url (better given as $SESSION_RUNTIME_TOKEN).",
        show_default=False,
    ),
]


def run_on_server(
    url: str,
    token: str | None,
    project_id: str,
    operation: Callable[[AsyncProjectClient], Awaitable[T]],
) -> T:
    """Run ``operation`` on the SDK's view of ``project_id`` at the server ``url``."""
    if not token:
        raise CliError(
            "--url needs a token: --token or $SESSION_RUNTIME_TOKEN", exit_code=EXIT_USAGE
        )

    async def main() -> T:
        async with AsyncSessionRuntimeClient(url, token) as client:
            return await operation(client.project(project_id))

    return asyncio.run(main())
