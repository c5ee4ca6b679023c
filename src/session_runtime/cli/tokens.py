"""``tokens``: the bearer tokens of members and guests. A secret is printed once, never stored."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from .. import SYSTEM
from ..domain.auth import Role
from ..domain.tokens import TokenRecord
from ..service import SessionService
from .console import out, print_json, short_time, table, token_json
from .errors import command
from .help_flag import FlagHelpGroup
from .options import DatabaseOption, JsonOption, ProjectOption, flag, option_without_default
from .runner import run

tokens_app = typer.Typer(
    cls=FlagHelpGroup,
    help="Create, list and revoke the tokens of members and guests.",
    no_args_is_help=True,
)


def _describe(record: TokenRecord) -> str:
    if record.user is not None and record.role is not None:
        return f"{record.user} ({record.role.value})"
    return f"guest of event {record.event_id}" if record.event_id else "guest (any event)"


@command(tokens_app, "create")
def create_token(
    project: ProjectOption,
    user: Annotated[
        str | None, option_without_default(help="A member's user name (with --role).")
    ] = None,
    role: Annotated[
        Role | None, option_without_default(help="The member's role (with --user).")
    ] = None,
    guest: Annotated[bool, flag("--guest", help="A guest token (a kiosk, a join link).")] = False,
    event: Annotated[
        str | None,
        option_without_default(help="Bind the guest token to this event (with --guest)."),
    ] = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a token: a member's (--user NAME --role ROLE) or a guest's (--guest [--event ID]).

    The token is printed once: only its hash is stored. With --json prints {tokenId, token,
    projectId, kind, user, role, eventId, createdAt, revokedAt, expiresAt}.
    """
    if guest:
        if user is not None or role is not None:
            raise typer.BadParameter("--guest takes no --user or --role")
    else:
        if user is None or role is None:
            raise typer.BadParameter("give --user NAME --role ROLE, or --guest")
        if event is not None:
            raise typer.BadParameter("--event is for guest tokens (with --guest)")

    async def create(service: SessionService) -> tuple[TokenRecord, str]:
        if user is not None and role is not None:
            return await service.create_member_token(SYSTEM, project, user=user, role=role)
        return await service.create_guest_token(SYSTEM, project, event_id=event)

    record, secret = run(database, create)
    if json_output:
        print_json(token_json(record, secret))
        return
    console = out()
    console.print(f"Created token {record.id} ({_describe(record)}) for project {project}:")
    console.print(Text(secret, style="bold green"), soft_wrap=True)
    console.print("It is shown once (only its hash is stored): keep it now.")


@command(tokens_app, "list")
def list_tokens(
    project: ProjectOption, database: DatabaseOption = None, json_output: JsonOption = False
) -> None:
    """List the tokens of a project, revoked ones included. Secrets are not stored, so never
    shown. With --json prints an array.
    """

    async def list_all(service: SessionService) -> list[TokenRecord]:
        await service.get_project(SYSTEM, project)  # NOT_FOUND rather than an empty list
        return await service.list_tokens(SYSTEM, project)

    records = run(database, list_all)
    if json_output:
        print_json([token_json(record) for record in records])
        return
    if not records:
        out().print("No tokens.")
        return
    rows = table(
        "token id",
        "kind",
        "who",
        "created (UTC)",
        "revoked (UTC)",
        title="Tokens",
        folding=("who",),
    )
    for record in records:
        rows.add_row(
            record.id,
            record.kind.value,
            _describe(record),
            short_time(record.created_at),
            short_time(record.revoked_at),
        )
    out().print(rows)


@command(tokens_app, "revoke")
def revoke_token(
    token_id: Annotated[
        str, typer.Argument(metavar="TOKEN_ID", help="The token's id (see tokens list).")
    ],
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a token at once; revoking it again is harmless. With --json prints its record."""

    async def revoke(service: SessionService) -> TokenRecord:
        return await service.revoke_token(SYSTEM, token_id)

    record = run(database, revoke)
    if json_output:
        print_json(token_json(record))
    else:
        out().print(
            f"Revoked token {record.id} ({_describe(record)}) of project {record.project_id}",
            soft_wrap=True,
        )
