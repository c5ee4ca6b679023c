"""The ``session-runtime`` command: ``serve``, ``init``, and the groups of the other modules."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from .. import __version__
from ..api.app import create_app
from ..api.websocket import transport_max_bytes
from .catalog import events_app, experiences_app, projects_app
from .console import out, print_json
from .demo import create_demo_if_empty, create_demo_in_new_database, print_demo
from .errors import command
from .logs import configure_logging, level_for
from .options import DatabaseOption, DatabaseUrlOption, JsonOption
from .purge import purge
from .runner import load_settings, run_with
from .sessions import sessions_app
from .tokens import tokens_app

# Long-lived streams (SSE, WebSocket) would hold a shutdown forever; give them this long.
GRACEFUL_SHUTDOWN_SECONDS = 5

app = typer.Typer(
    name="session-runtime",
    help="Capture experience sessions atomically and push them live to every screen.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(projects_app, name="projects")
app.add_typer(events_app, name="events")
app.add_typer(experiences_app, name="experiences")
app.add_typer(tokens_app, name="tokens")
app.add_typer(sessions_app, name="sessions")
command(app, "purge")(purge)


def _print_version(is_asked: bool) -> None:
    if is_asked:
        typer.echo(f"session-runtime {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Log more on stderr: -v for INFO, -vv for DEBUG.",
        ),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Capture experience sessions atomically and push them live to every screen.

    Every command works on one SQLite file (--database, default ./var/session-runtime.db or
    $SESSION_RUNTIME_DATABASE_PATH) as a trusted operator. Start with [bold]init[/] or
    [bold]serve[/].
    """
    configure_logging(level_for(verbose))


def url_of(host: str, port: int) -> str:
    """The server's address as a browser wants it (an IPv6 host in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@command(app)
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default: $SESSION_RUNTIME_HOST or 127.0.0.1)",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on (default: $SESSION_RUNTIME_PORT or 8000)", show_default=False
        ),
    ] = None,
    database: DatabaseOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the HTTP and real-time server (REST, SSE, WebSocket, /docs) on the database.

    On the first start with a new database it sets up a demo project, event and experience and
    prints an owner token and a guest token, once (as [bold]init[/] does). Other settings come
    from SESSION_RUNTIME_* environment variables. Stop it with Ctrl-C.
    """
    settings = load_settings(
        database_path=database, database_url=database_url, host=host, port=port
    )
    # The server logs INFO at least (requests, failed operations); -vv shows DEBUG too.
    configure_logging(min(logging.getLogger().getEffectiveLevel(), logging.INFO))
    demo = run_with(settings, create_demo_if_empty, may_create=True)
    where = "PostgreSQL" if settings.database_url else str(settings.database_path)
    if demo is not None:
        print_demo(demo, where)
    url = url_of(settings.host, settings.port)
    out().print(
        f"Serving {where} on {url} (the dashboard at {url}/, API docs at {url}/docs)",
        soft_wrap=True,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws_max_size=transport_max_bytes(settings.ws_max_message_bytes),
        log_config=None,  # logging is configured above, uvicorn's loggers included
        access_log=False,  # the app writes its own (SESSION_RUNTIME_ACCESS_LOG)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        lifespan="on",
    )


@command(app)
def init(database: DatabaseOption = None, json_output: JsonOption = False) -> None:
    """Set up a new database with a demo project, event and experience, and two tokens.

    Prints an owner token (all rights on the demo project) and a guest token (for the demo
    event, as a kiosk gets), once: only their hashes are stored. Refuses a database that
    already has projects. With --json prints one object: projectId, eventId, experienceId,
    ownerToken, guestToken.
    """
    settings = load_settings(database_path=database)
    demo = run_with(settings, create_demo_in_new_database, may_create=True)
    if json_output:
        print_json(demo.to_json())
    else:
        print_demo(demo, settings.database_path)
