"""The live table and the detail view, following changes made through the Python SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from session_runtime.client import SessionRuntimeClient
from session_runtime.settings import Settings

from ..support.server import RunningServer, running_server
from .seeding import EVENTS, EXPERIENCES, Booth, SessionPlan, seed_booth

LIVE_MS = 1000  # "within a second of a change"


@pytest.fixture
def kiosk(server: RunningServer, booth: Booth) -> Iterator[SessionRuntimeClient]:
    with SessionRuntimeClient(server.base_url, booth.owner) as client:
        yield client


def create(kiosk: SessionRuntimeClient, booth: Booth, experience: str = EXPERIENCES[0]) -> str:
    created = kiosk.project(booth.project_id).create_session(
        event_id=booth.events[EVENTS[0]],
        experience_id=booth.experiences[experience],
        mode="guest",
        config_source="published",
    )
    return created.session_id


def test_a_session_appears_and_changes_step_without_a_reload(
    page: Page,
    server: RunningServer,
    booth: Booth,
    kiosk: SessionRuntimeClient,
    sign_in: Callable[[Page, str], None],
) -> None:
    sign_in(page, booth.owner)
    rows = page.locator("#sessions-body tr")
    expect(rows).to_have_count(25)
    page.evaluate("window.notReloaded = true")

    session_id = create(kiosk, booth, "Mood quiz")
    row = page.locator(f'#sessions-body tr[data-id="{session_id}"]')
    expect(rows.first).to_have_attribute("data-id", session_id, timeout=LIVE_MS)
    expect(row.locator(".cell-status")).to_have_text("active")
    expect(row.locator(".cell-experience")).to_have_text("Mood quiz")
    expect(row.locator(".cell-event")).to_have_text(EVENTS[0])
    expect(row.locator(".cell-step")).to_have_text("0")

    project = kiosk.project(booth.project_id)
    project.update_session_progress(
        session_id, current_step_index=2, inputs={"guest": {"name": "<b>Ada</b>"}}
    )
    expect(row.locator(".cell-step")).to_have_text("2", timeout=LIVE_MS)
    # Written as text, never as markup.
    expect(row.locator(".cell-inputs")).to_have_text("guest.name: <b>Ada</b>")
    media_url = f"{server.base_url}/dashboard/favicon.svg?media=m1"
    project.update_session_progress(
        session_id,
        current_step_index=3,
        outputs={"portrait": {"mediaAssetId": "m1", "url": media_url}},
    )
    expect(row.locator(".cell-step")).to_have_text("3", timeout=LIVE_MS)
    expect(row.locator(".cell-outputs img")).to_have_attribute("src", media_url)
    project.complete_session(session_id)
    expect(row.locator(".cell-status")).to_have_text("completed", timeout=LIVE_MS)
    assert page.evaluate("window.notReloaded") is True
    expect(rows).to_have_count(25)  # page 1 keeps its size: the oldest moved to page 2


def test_filters_and_pages(
    page: Page,
    booth: Booth,
    booth_plans: list[SessionPlan],
    kiosk: SessionRuntimeClient,
    sign_in: Callable[[Page, str], None],
) -> None:
    sign_in(page, booth.owner)
    rows = page.locator("#sessions-body tr")
    expect(rows).to_have_count(25)
    total = len(booth.session_ids) + 1  # and the one the test before made, if it ran
    page.get_by_role("button", name="Older").click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    second_page = rows.count()
    assert 5 <= second_page <= total - 25
    page.get_by_role("button", name="Newer").click()
    expect(rows).to_have_count(25)

    page.get_by_label("Mode").select_option("preview")  # left out of the funnel, not here
    previews = sum(plan.mode == "preview" for plan in booth_plans)
    expect(rows).to_have_count(previews)
    assert set(rows.evaluate_all("rows => rows.map(row => row.dataset.mode)")) == {"preview"}
    page.get_by_label("Mode").select_option("")
    expect(rows).to_have_count(25)

    page.get_by_label("Status").select_option("active")
    expect(rows.first).to_have_attribute("data-status", "active")
    statuses = rows.evaluate_all("rows => rows.map(row => row.dataset.status)")
    assert statuses and set(statuses) == {"active"}

    session_id = create(kiosk, booth)  # active: it matches, so it comes in at the top
    expect(rows.first).to_have_attribute("data-id", session_id, timeout=LIVE_MS)
    kiosk.project(booth.project_id).abandon_session(session_id)  # and goes once it does not
    expect(page.locator(f'tr[data-id="{session_id}"]')).to_have_count(0, timeout=LIVE_MS)


def test_the_detail_view_follows_the_session_live(
    page: Page, booth: Booth, kiosk: SessionRuntimeClient, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, booth.owner)
    session_id = create(kiosk, booth)
    open_button = page.locator(f'tr[data-id="{session_id}"] .row-open')
    open_button.focus()
    page.keyboard.press("Enter")
    detail = page.get_by_role("dialog")
    expect(detail).to_be_visible()
    expect(detail).to_have_attribute("data-step", "0")
    expect(detail.locator("#detail-title")).to_have_text(f"Session {session_id}")

    project = kiosk.project(booth.project_id)
    project.update_session_progress(
        session_id, current_step_index=1, inputs={"profile": {"name": "Grace"}}
    )
    expect(detail).to_have_attribute("data-step", "1", timeout=LIVE_MS)
    expect(detail.locator("#detail-inputs")).to_contain_text('"name": "Grace"')
    project.fail_session(session_id, reason="printer jammed")
    expect(detail).to_have_attribute("data-status", "error", timeout=LIVE_MS)
    expect(detail.locator('[data-fact="End reason"] dd')).to_have_text("printer jammed")
    expect(detail.locator("#detail-live")).to_contain_text("will not change")

    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()
    expect(open_button).to_be_focused()


def test_the_table_reconnects_by_itself_after_the_server_restarts(
    browser: Browser, tmp_path: Path, sign_in: Callable[[Page, str], None]
) -> None:
    settings = Settings(database_path=tmp_path / "restart.db", token_cache_seconds=0)
    with running_server(settings) as first:
        port = first.port
        booth = first.call(seed_booth(first.service, []))
        context = browser.new_context(base_url=first.base_url)
        page = context.new_page()
        sign_in(page, booth.owner)
    try:
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        with running_server(settings, port=port) as second:
            expect(page.locator("#connection")).to_have_attribute(
                "data-state", "live", timeout=10_000
            )
            with SessionRuntimeClient(second.base_url, booth.owner) as client:
                session_id = create(client, booth)
            expect(page.locator(f'tr[data-id="{session_id}"]')).to_be_visible(timeout=LIVE_MS)
    finally:
        context.close()
