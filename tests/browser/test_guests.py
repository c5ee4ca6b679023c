"""A guest's whole way in Chromium, as a new user would try it: the dashboard makes a join
link and shows its QR code; a phone (a second browser context) opens the link, gets a guest
identity and runs a session the dashboard shows live; it reloads and resumes that session,
completes it, opens its share page (outputs shown, no inputs) and erases itself, after which
the session is gone from the dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from ..support.server import RunningServer
from .seeding import Booth

LIVE_MS = 1000  # "within a second of a change"
NAME = "Grace-typed-this"


@pytest.fixture
def phone(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A second browser context, phone-sized, held to the same rules as the dashboard's page:
    no errors logged and nothing asked of any other address."""
    context = browser.new_context(base_url=server.base_url, viewport={"width": 390, "height": 844})
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    def outside(route: Route) -> None:
        problems.append(f"the page asked for {route.request.url}")
        route.abort()

    context.route(lambda url: not url.startswith(server.base_url), outside)
    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert problems == [], f"the guest page logged errors: {problems}"


def test_a_guest_joins_by_qr_code_runs_resumes_shares_and_erases_itself(
    page: Page, phone: Page, booth: Booth, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, booth.owner)

    # The dashboard makes a join link and shows its QR code.
    page.get_by_role("button", name="Join links").click()
    page.get_by_label("Label").fill("Front door")
    page.get_by_role("button", name="Create join link").click()
    card = page.locator(".link-card").first
    expect(card.locator("h3")).to_have_text("Front door")
    expect(card.locator(".joined")).to_have_text("0 joined")
    qr = card.locator("img.qr")
    expect(qr).to_have_attribute("src", re.compile(r"^/v1/join/[\w-]+/qr\.svg$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    download = card.get_by_role("link", name="Download PNG")
    assert (download.get_attribute("href") or "").endswith("/qr.png")
    assert download.get_attribute("download") == "join-link.png"
    join_url = card.locator(".link-url").inner_text()
    page.get_by_role("button", name="Sessions").click()

    # The phone opens the join URL and gets an identity, kept in localStorage only.
    phone.goto(join_url)
    expect(phone.locator("#start")).to_be_visible()
    identity = phone.evaluate("JSON.parse(localStorage.getItem('session-runtime.guest'))")
    assert identity["guestId"].startswith("guest:") and identity["token"].startswith("srt_")
    assert identity["token"] not in phone.url

    # It runs a session that the dashboard shows live.
    phone.locator("#start").click()
    expect(phone.locator("#session-id")).not_to_have_text("")
    session_id = phone.locator("#session-id").inner_text()
    row = page.locator(f'#sessions-body tr[data-id="{session_id}"]')
    expect(row.locator(".cell-status")).to_have_text("active", timeout=LIVE_MS)
    phone.get_by_label("Your first name").fill(NAME)
    phone.locator("#next").click()
    expect(row.locator(".cell-step")).to_have_text("1", timeout=LIVE_MS)

    # It reloads and resumes the same session, where it was.
    phone.reload()
    expect(phone.locator("#session-id")).to_have_text(session_id)
    expect(phone.locator("#make-portrait")).to_be_visible()
    phone.locator("#make-portrait").click()
    phone.locator("#finish").click()
    expect(phone.locator("#done-view")).to_be_visible()
    expect(row.locator(".cell-status")).to_have_text("completed", timeout=LIVE_MS)

    # Its share page shows the outputs and none of the inputs.
    phone.locator("#share").click()
    expect(phone.locator("#share-link")).to_have_attribute("href", re.compile(r"/share/[\w-]+$"))
    share_url = phone.locator("#share-link").get_attribute("href")
    assert share_url and "/share/" in share_url
    phone.goto(share_url)
    expect(phone.locator("li.output img")).to_have_count(1)
    expect(phone.locator("li.output")).to_have_attribute("data-output", "portrait")
    assert NAME not in phone.content()

    # Back on the guest page, it erases itself; the session leaves the dashboard.
    phone.goto(join_url)
    expect(phone.locator("#session-id")).to_have_text(session_id)
    phone.locator("#erase").click()
    expect(phone.locator("#message")).to_contain_text("erased")
    assert phone.evaluate("localStorage.getItem('session-runtime.guest')") is None
    expect(row).to_have_count(0, timeout=LIVE_MS)
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#sessions-body tr").first).to_be_visible()
    expect(page.locator(f'#sessions-body tr[data-id="{session_id}"]')).to_have_count(0)
    page.get_by_role("button", name="Join links").click()
    expect(page.locator(".link-card").first.locator(".joined")).to_have_text("1 joined")
