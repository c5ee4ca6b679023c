"""The edge of the CLI: every failure is one line on stderr and an exit code."""

from __future__ import annotations

import pytest
import typer
import typer.main

from session_runtime import FailedPreconditionError
from session_runtime.cli import app
from session_runtime.cli.errors import CliError, handle_errors


def fail_with(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize(
    ("error", "exit_code", "line"),
    [
        (CliError("no database at x"), 1, "error: no database at x"),
        (CliError("bad setting", exit_code=2), 2, "error: bad setting"),
        (FailedPreconditionError("the session is final"), 1, "error: FAILED_PRECONDITION: "
         "the session is final"),
        (PermissionError(13, "Permission denied"), 1, "error: [Errno 13] Permission denied"),
        (KeyboardInterrupt(), 130, "error: interrupted"),
        (ZeroDivisionError("division by zero"), 1, "error: unexpected ZeroDivisionError: "
         "division by zero (a bug; run with -vv for the traceback)"),
        (CliError("two\nlines"), 1, "error: two lines"),
    ],
)  # fmt: skip
def test_a_failure_becomes_one_line_and_an_exit_code(
    capsys: pytest.CaptureFixture[str], error: BaseException, exit_code: int, line: str
) -> None:
    with pytest.raises(typer.Exit) as exited:
        handle_errors(fail_with)(error)

    assert exited.value.exit_code == exit_code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", line + "\n")


@pytest.mark.parametrize(
    "error", [typer.Exit(3), typer.Abort(), typer.BadParameter("no"), BrokenPipeError()]
)
def test_typer_s_own_exits_pass_through(error: BaseException) -> None:
    with pytest.raises(type(error)):
        handle_errors(fail_with)(error)


def test_every_command_is_behind_the_error_handler() -> None:
    def callbacks(command: object, path: str) -> list[tuple[str, object]]:
        found: list[tuple[str, object]] = []
        for name, child in getattr(command, "commands", {}).items():
            found.extend(callbacks(child, f"{path} {name}"))
        if not getattr(command, "commands", None):
            found.append((path, getattr(command, "callback", None)))
        return found

    found = callbacks(typer.main.get_command(app), "session-runtime")

    assert len(found) == 21  # with links create|list|revoke and guests erase
    for path, callback in found:
        assert getattr(callback, "__wrapped__", None) is not None, path
