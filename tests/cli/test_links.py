"""``links create|list|revoke`` and ``guests erase``: join links from the command line, with
the URL and a QR code that decodes to it."""

from __future__ import annotations

import pytest

from session_runtime import FailedPreconditionError, Guest, SessionService
from session_runtime.cli.links import terminal_qr

from .conftest import Cli, DemoDatabase, on_service


def test_create_prints_the_url_and_a_terminal_qr_code(cli: Cli, demo: DemoDatabase) -> None:
    output = cli.ok(
        "links", "create", "-p", demo.project_id, "--url", "https://booth.example.com/",
        "-d", demo.path,
    ).stdout  # fmt: skip
    [url] = [line for line in output.splitlines() if line.startswith("https://")]
    assert url.startswith("https://booth.example.com/join/")
    assert terminal_qr(url) in output
    assert {"█", "▀", "▄"} & set(output)


def test_a_link_from_the_cli_lets_guests_join_and_is_listed_with_its_count(
    cli: Cli, demo: DemoDatabase
) -> None:
    link = cli.json(
        "links", "create", "-p", demo.project_id, "--event", demo.event_id, "--label", "Door",
        "--max-guests", "2", "--expires-in", "12h", "-d", demo.path,
    )  # fmt: skip
    assert link["url"] == f"http://127.0.0.1:8000/join/{link['code']}"
    assert (link["maxGuests"], link["label"], link["eventId"]) == (2, "Door", demo.event_id)

    async def join(service: SessionService) -> Guest:
        joined = await service.guests.join(link["code"])
        principal = await service.authenticate(joined.secret)
        assert isinstance(principal, Guest)
        return principal

    guest = on_service(demo.path, join)
    assert guest.event_id == demo.event_id
    [listed] = cli.json("links", "list", "-p", demo.project_id, "-d", demo.path)
    assert (listed["id"], listed["joinedCount"]) == (link["id"], 1)
    table = cli.ok("links", "list", "-p", demo.project_id, "-d", demo.path).stdout
    assert link["id"] in table and "open" in table

    revoked = cli.json("links", "revoke", link["id"], "-p", demo.project_id, "-d", demo.path)
    assert revoked["revokedAt"] is not None
    assert "revoked" in cli.ok("links", "list", "-p", demo.project_id, "-d", demo.path).stdout
    with pytest.raises(FailedPreconditionError):
        on_service(demo.path, join)

    erased = cli.json("guests", "erase", guest.created_by, "-p", demo.project_id, "-d", demo.path)
    assert erased == {"guestId": guest.created_by, "sessions": 0, "shareLinks": 0, "tokens": 1}


def test_bad_options_and_unknown_links_fail_cleanly(cli: Cli, demo: DemoDatabase) -> None:
    cli.fails("links", "create", "-p", demo.project_id, "--max-guests", "0", "-d", demo.path)
    cli.fails("links", "create", "-p", demo.project_id, "--event", "nope", "-d", demo.path)
    cli.fails("links", "revoke", "nope", "-p", demo.project_id, "-d", demo.path)
    cli.fails("links", "list", "-p", "no-such-project", "-d", demo.path)
    assert cli.json("links", "list", "-p", demo.project_id, "-d", demo.path) == []
