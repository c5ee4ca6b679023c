"""Signing in to the dashboard with a pasted token, in a real Chromium."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from session_runtime import SYSTEM

from ..support.server import RunningServer
from .seeding import Booth

TOKEN_KEY = "session-runtime.token"


def test_a_member_token_signs_in_and_never_reaches_the_url(
    page: Page, booth: Booth, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, booth.owner)
    expect(page.get_by_label("Project")).to_have_value(booth.project_id)
    expect(page.locator("#project-picker option")).to_have_text(["Photo booth"])
    expect(page.locator("#who")).to_have_text("ada (owner)")
    expect(page.locator("#sessions-body tr")).to_have_count(25)
    assert booth.owner not in page.url
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") == booth.owner

    page.reload()  # the tab keeps its token: no second sign-in
    expect(page.locator("#sessions-body tr")).to_have_count(25)
    expect(page.locator("#sign-in-view")).to_be_hidden()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None


def test_a_wrong_token_shows_a_clear_message(page: Page, booth: Booth) -> None:
    page.goto("/")
    page.get_by_label("Access token").fill("srt_this-token-does-not-exist")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("That token was not accepted")
    expect(alert).to_contain_text("unknown or has been revoked")
    expect(page.locator("#dashboard-view")).to_be_hidden()
    expect(page.get_by_label("Access token")).to_be_focused()
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None

    page.get_by_label("Access token").fill(booth.guest)
    page.keyboard.press("Enter")
    expect(alert).to_contain_text("guest token")
    expect(alert).to_contain_text("needs a member token")
    expect(page.locator("#dashboard-view")).to_be_hidden()


def test_a_viewer_signs_in_with_the_keyboard_alone(page: Page, booth: Booth) -> None:
    page.goto("/")
    expect(page.get_by_label("Access token")).to_be_focused()
    page.keyboard.type(booth.viewer)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_have_text("lin (viewer)")
    expect(page.locator("#sessions-body tr")).to_have_count(25)


def test_revoking_the_token_signs_an_open_dashboard_out(
    page: Page, server: RunningServer, booth: Booth, sign_in: Callable[[Page, str], None]
) -> None:
    record, token = server.call(
        server.service.create_member_token(SYSTEM, booth.project_id, user="kim", role="viewer")
    )
    sign_in(page, token)
    expect(page.locator("#sessions-body tr")).to_have_count(25)
    server.call(server.service.revoke_token(SYSTEM, record.id))
    # The open WebSocket is closed with 4401 by the server's re-check, with no action here.
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("no longer accepts this token", timeout=10_000)
    expect(page.locator("#dashboard-view")).to_be_hidden()
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
