"""The ``session-runtime`` command: ``serve``, ``init``, and the groups of the other modules."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from .catalog import events_app, experiences_app, projects_app
from .console import print_json
from .demo import create_demo_in_new_database, print_demo
from .errors import command
from .help_flag import FlagHelpGroup
from .links import guests_app, links_app
from .logs import configure_logging, level_for
from .options import DatabaseOption, JsonOption
from .purge import purge
from .runner import load_settings, run_with
from .serve import serve
from .sessions import sessions_app
from .tokens import tokens_app

app = typer.Typer(
    cls=FlagHelpGroup,
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
app.add_typer(links_app, name="links")
app.add_typer(guests_app, name="guests")
command(app, "purge")(purge)
command(app, "serve")(serve)


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
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version.",
            metavar="",  # a flag: no <bool> in the help (see options.flag)
        ),
    ] = False,
) -> None:
    """Capture experience sessions atomically and push them live to every screen.

    Every command works on one SQLite file (--database, default ./var/session-runtime.db or
    $SESSION_RUNTIME_DATABASE_PATH) as a trusted operator. Start with [bold]init[/] or
    [bold]serve[/].
    """
    configure_logging(level_for(verbose))


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
