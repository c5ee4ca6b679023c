"""``links``: join links, by which guests arrive (a QR code at the door), and ``guests erase``.

The URL a link carries is ``<base>/join/<code>``, the base being ``--url``, else
``$SESSION_RUNTIME_PUBLIC_URL``, else the address ``serve`` listens on. ``links create``
prints the URL and its QR code, drawn in the terminal.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any

import segno
import typer
from rich.text import Text

from .. import SYSTEM
from ..domain.guests import GuestErasure, JoinLink
from ..domain.timestamps import utc_now
from ..service import SessionService
from ..settings import Settings
from .console import out, print_json, short_time, table
from .errors import command
from .help_flag import FlagHelpGroup
from .options import DatabaseOption, JsonOption, ProjectOption, option_without_default
from .purge import parse_age
from .runner import load_settings, run_with

links_app = typer.Typer(
    cls=FlagHelpGroup,
    help="Create, list and revoke join links: how guests arrive (by URL or QR code).",
    no_args_is_help=True,
)
guests_app = typer.Typer(
    cls=FlagHelpGroup, help="Erase one guest's data on request.", no_args_is_help=True
)

UrlOption = Annotated[
    str | None,
    option_without_default(
        "--url",
        help="The address guests reach the server at (default: $SESSION_RUNTIME_PUBLIC_URL, "
        "else the address serve listens on)",
    ),
]


def _base_url(database: Path | None, url: str | None) -> tuple[Settings, str]:
    settings = load_settings(database_path=database, public_url=url)
    if settings.public_url:
        return settings, settings.public_url
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return settings, f"http://{host}:{settings.port}"


def link_url(base: str, link: JoinLink) -> str:
    return f"{base}/join/{link.code}"


def link_json(link: JoinLink, base: str) -> dict[str, Any]:
    return {**link.model_dump(mode="json", by_alias=True), "url": link_url(base, link)}


def terminal_qr(url: str) -> str:
    """The QR code of ``url`` in text: two modules a character, black on the default ground."""
    buffer = io.StringIO()
    segno.make(url, error="m").terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue()


def _state(link: JoinLink) -> str:
    """open, or why nobody may join: revoked, expired or full."""
    refusal = link.refusal(utc_now())
    return "open" if refusal is None else str(refusal.details["reason"])


@command(links_app, "create")
def create_link(
    project: ProjectOption,
    event: Annotated[
        str | None, option_without_default(help="Only for this event's sessions.")
    ] = None,
    label: Annotated[
        str | None, option_without_default(help="A name for people (Entrance A).")
    ] = None,
    expires_in: Annotated[
        str | None, option_without_default(help="Stop taking guests after this long: 12h, 2d...")
    ] = None,
    max_guests: Annotated[
        int | None, option_without_default(help="Take at most this many guests.")
    ] = None,
    url: UrlOption = None,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="Draw the QR code.")] = True,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a join link and print its URL and QR code. With --json prints the link."""
    data: dict[str, Any] = {"eventId": event, "label": label, "maxGuests": max_guests}
    if expires_in is not None:
        data["expiresInSeconds"] = int(parse_age(expires_in).total_seconds())
    settings, base = _base_url(database, url)

    async def create(service: SessionService) -> JoinLink:
        given = {name: value for name, value in data.items() if value is not None}
        return await service.guests.create_join_link(SYSTEM, project, given)

    link = run_with(settings, create)
    if json_output:
        print_json(link_json(link, base))
        return
    console = out()
    console.print(f"Created join link {link.id} for project {project}:", soft_wrap=True)
    console.print(Text(link_url(base, link), style="bold green"), soft_wrap=True)
    if qr:
        console.print(Text(terminal_qr(link_url(base, link))), soft_wrap=True, highlight=False)


@command(links_app, "list")
def list_links(
    project: ProjectOption,
    url: UrlOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """List a project's join links with how many guests joined by each. --json: an array."""
    settings, base = _base_url(database, url)

    async def list_all(service: SessionService) -> list[JoinLink]:
        await service.get_project(SYSTEM, project)  # NOT_FOUND rather than an empty list
        return await service.guests.list_join_links(SYSTEM, project)

    links = run_with(settings, list_all)
    if json_output:
        print_json([link_json(link, base) for link in links])
        return
    if not links:
        out().print("No join links.")
        return
    rows = table(
        "link id", "label", "event", "joined", "cap", "expires (UTC)", "state", "url",
        title="Join links", folding=("label",),
    )  # fmt: skip
    for link in links:
        rows.add_row(
            link.id,
            link.label or "",
            link.event_id or "any",
            str(link.joined_count),
            "" if link.max_guests is None else str(link.max_guests),
            short_time(link.expires_at),
            _state(link),
            link_url(base, link),
        )
    out().print(rows)


@command(links_app, "revoke")
def revoke_link(
    link_id: Annotated[str, typer.Argument(metavar="LINK_ID", help="The link's id.")],
    project: ProjectOption,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a join link: nobody new may join by it. Guests who joined keep their identity
    until it expires (erase one with: guests erase). With --json prints the link."""
    settings, base = _base_url(database, None)

    async def revoke(service: SessionService) -> JoinLink:
        return await service.guests.revoke_join_link(SYSTEM, project, link_id)

    link = run_with(settings, revoke)
    if json_output:
        print_json(link_json(link, base))
    else:
        out().print(
            f"Revoked join link {link.id} ({link.joined_count} guests had joined)", soft_wrap=True
        )


@command(guests_app, "erase")
def erase_guest(
    guest_id: Annotated[str, typer.Argument(metavar="GUEST_ID", help="guest:<id> (createdBy).")],
    project: ProjectOption,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Erase one guest: every session it created, their share links, its token."""

    async def erase(service: SessionService) -> GuestErasure:
        return await service.guests.erase_guest(SYSTEM, project, guest_id)

    erasure = run_with(load_settings(database_path=database), erase)
    counts = {
        "guestId": erasure.guest_id,
        "sessions": erasure.sessions,
        "shareLinks": erasure.share_links,
        "tokens": erasure.tokens,
    }
    if json_output:
        print_json(counts)
    else:
        out().print(
            f"Erased {erasure.guest_id}: {erasure.sessions} sessions, "
            f"{erasure.share_links} share links, {erasure.tokens} tokens",
            soft_wrap=True,
        )
