"""``--help`` shown as the flag it is: Typer's rich help prints its type (``--help <bool>``)
unless the option has a metavar, as our own flags do (see ``options``)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup, TyperOption


def _as_flag(option: TyperOption | None) -> TyperOption | None:
    if option is not None:
        option.metavar = ""
    return option


class FlagHelpCommand(TyperCommand):
    """A command whose ``--help`` shows no type."""

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        return _as_flag(super().get_help_option(ctx))


class FlagHelpGroup(TyperGroup):
    """A group whose ``--help`` shows no type; its commands are ``FlagHelpCommand``."""

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        return _as_flag(super().get_help_option(ctx))
