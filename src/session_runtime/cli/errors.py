"""Failures at the edge of the CLI: one line on stderr and an exit code, never a traceback.

Exit codes: 0 success; 1 the operation failed (the line names the contract's code, as in
``error: NOT_FOUND: project 'x' not found``); 2 the command line or the settings are wrong
(Typer's own usage errors use 2 as well); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from ..domain.errors import SessionRuntimeError
from .console import print_error
from .help_flag import FlagHelpCommand

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the CLI itself detects (no database, bad settings), with its exit code."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def handle_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Run a command, turning every failure into one ``error: ...`` line and an exit code."""

    @functools.wraps(function)
    def run_command(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except BrokenPipeError:
            raise  # stdout closed early (`| head`): Typer's main exits quietly
        except CliError as exc:
            print_error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except SessionRuntimeError as exc:
            print_error(f"{exc.code}: {exc.message}")
            raise typer.Exit(EXIT_FAILURE) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:  # an output file that cannot be written, a full disk
            print_error(str(exc))
            raise typer.Exit(EXIT_FAILURE) from None
        except Exception as exc:
            logger.debug("unexpected error", exc_info=exc)
            print_error(
                f"unexpected {type(exc).__name__}: {exc} (a bug; run with -vv for the traceback)"
            )
            raise typer.Exit(EXIT_FAILURE) from None

    return run_command


def command(
    group: typer.Typer, name: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a command on ``group``, behind ``handle_errors``. Its docstring is its help.

    >>> @command(projects_app, "list")                      # doctest: +SKIP
    ... def list_projects(...) -> None: ...
    """

    def register(function: Callable[P, R]) -> Callable[P, R]:
        group.command(name, cls=FlagHelpCommand)(handle_errors(function))
        return function

    return register
