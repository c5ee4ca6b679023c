"""Settings and the runtime for one command: read the settings once, open the database, run.

>>> run(Path("var/demo.db"), lambda service: service.list_projects(SYSTEM))   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from ..runtime import SessionRuntime
from ..service import SessionService
from ..settings import Settings
from .errors import EXIT_USAGE, CliError

T = TypeVar("T")


def load_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment (``SESSION_RUNTIME_*``), then the options given."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except pydantic.ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise CliError(
            f"invalid setting {field} (option or SESSION_RUNTIME_{field.upper()}): "
            f"{problem['msg']}",
            exit_code=EXIT_USAGE,
        ) from None


def require_database(path: Path) -> None:
    """Refuse a missing file rather than create an empty database by mistake."""
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a database file")
    if not path.exists():
        raise CliError(
            f"no database at {path} (create one with: session-runtime init --database {path})"
        )


def run_with(
    settings: Settings,
    operation: Callable[[SessionService], Awaitable[T]],
    *,
    may_create: bool = False,
) -> T:
    """Open the database of ``settings``, run ``operation`` on its service, close it."""
    if not may_create and not settings.database_url:
        require_database(settings.database_path)

    async def main() -> T:
        async with SessionRuntime.from_settings(settings) as runtime:
            return await operation(runtime.service)

    return asyncio.run(main())


def run(
    database: Path | None,
    operation: Callable[[SessionService], Awaitable[T]],
    *,
    may_create: bool = False,
) -> T:
    """``run_with`` the settings of a command that takes only ``--database``."""
    return run_with(load_settings(database_path=database), operation, may_create=may_create)
