"""``tokens``: create (member, guest), list without secrets, revoke."""

from __future__ import annotations

import pytest

from session_runtime import Guest, Member, Role, SessionService, UnauthenticatedError

from .conftest import Cli, DemoDatabase, on_service
from .test_main import authenticate


def test_a_member_token_authenticates_with_its_role(cli: Cli, demo: DemoDatabase) -> None:
    printed = cli.json(
        "tokens", "create", "-p", demo.project_id, "--user", "ada", "--role", "editor",
        "-d", demo.path,
    )  # fmt: skip

    assert printed["token"].startswith("srt_")
    assert {key: printed[key] for key in ("projectId", "kind", "user", "role", "eventId")} == {
        "projectId": demo.project_id,
        "kind": "member",
        "user": "ada",
        "role": "editor",
        "eventId": None,
    }
    principal = authenticate(demo.path, printed["token"])
    assert principal == Member(
        project_id=demo.project_id, user="ada", role=Role.EDITOR, token_id=printed["tokenId"]
    )


@pytest.mark.parametrize("bound", [True, False], ids=["event", "any-event"])
def test_a_guest_token_authenticates_as_a_guest(cli: Cli, demo: DemoDatabase, bound: bool) -> None:
    event = ["--event", demo.event_id] if bound else []
    printed = cli.json(
        "tokens", "create", "-p", demo.project_id, "--guest", *event, "-d", demo.path
    )

    assert (printed["kind"], printed["user"], printed["role"]) == ("guest", None, None)
    assert printed["eventId"] == (demo.event_id if bound else None)
    assert authenticate(demo.path, printed["token"]) == Guest(
        project_id=demo.project_id,
        token_id=printed["tokenId"],
        event_id=demo.event_id if bound else None,
    )


def test_text_output_shows_the_token_once(cli: Cli, demo: DemoDatabase) -> None:
    output = cli.ok("tokens", "create", "-p", demo.project_id, "--guest", "-d", demo.path).stdout

    secret = output.splitlines()[1]
    assert secret.startswith("srt_")
    assert isinstance(authenticate(demo.path, secret), Guest)
    assert "shown once" in output


def test_list_never_shows_a_secret(cli: Cli, demo: DemoDatabase) -> None:
    created = cli.json(
        "tokens", "create", "-p", demo.project_id, "--user", "bob", "--role", "viewer",
        "-d", demo.path,
    )  # fmt: skip

    listed = cli.json("tokens", "list", "-p", demo.project_id, "-d", demo.path)
    table = cli.ok("tokens", "list", "-p", demo.project_id, "-d", demo.path).stdout

    assert [token["kind"] for token in listed] == ["member", "guest", "member"]
    assert listed[2] == {key: value for key, value in created.items() if key != "token"}
    assert all("token" not in token for token in listed)
    for secret in (created["token"], demo.owner_token, demo.guest_token):
        assert secret not in table
        assert secret not in str(listed)
    assert "bob (viewer)" in table and created["tokenId"] in table


def test_revoke_stops_a_token_at_once(cli: Cli, demo: DemoDatabase) -> None:
    tokens = cli.json("tokens", "list", "-p", demo.project_id, "-d", demo.path)
    guest_id = next(token["tokenId"] for token in tokens if token["kind"] == "guest")

    revoked = cli.json("tokens", "revoke", guest_id, "-d", demo.path)
    again = cli.ok("tokens", "revoke", guest_id, "-d", demo.path)

    assert revoked["tokenId"] == guest_id and revoked["revokedAt"] is not None
    assert again.stdout.startswith(f"Revoked token {guest_id}")
    with pytest.raises(UnauthenticatedError):
        authenticate(demo.path, demo.guest_token)
    assert isinstance(authenticate(demo.path, demo.owner_token), Member)
    listed = cli.json("tokens", "list", "-p", demo.project_id, "-d", demo.path)
    assert [token["revokedAt"] is not None for token in listed] == [False, True]


def test_revoking_an_unknown_token(cli: Cli, demo: DemoDatabase) -> None:
    assert cli.fails("tokens", "revoke", "nope", "-d", demo.path) == (
        "error: NOT_FOUND: token 'nope' not found"
    )


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--user", "ada"],
        ["--role", "owner"],
        ["--user", "ada", "--role", "owner", "--guest"],
        ["--user", "ada", "--role", "owner", "--event", "e"],
        ["--user", "ada", "--role", "admin"],
    ],
    ids=" ".join,
)
def test_a_wrong_combination_of_options_is_a_usage_error(
    cli: Cli, demo: DemoDatabase, options: list[str]
) -> None:
    result = cli.invoke("tokens", "create", "-p", demo.project_id, *options, "-d", demo.path)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""

    async def count(service: SessionService) -> int:
        return len(await service.store.list_tokens(demo.project_id))

    assert on_service(demo.path, count) == 2


def test_tokens_of_an_unknown_project_or_event(cli: Cli, demo: DemoDatabase) -> None:
    assert cli.fails("tokens", "list", "-p", "nope", "-d", demo.path) == (
        "error: NOT_FOUND: project 'nope' not found"
    )
    assert (
        cli.fails(
            "tokens", "create", "-p", "nope", "--user", "a", "--role", "owner", "-d", demo.path
        )
        == "error: NOT_FOUND: project 'nope' not found"
    )
    assert (
        cli.fails(
            "tokens", "create", "-p", demo.project_id, "--guest", "--event", "nope", "-d", demo.path
        )
        == "error: NOT_FOUND: event 'nope' not found"
    )
