"""Page 1 of the live table keeps its 25 rows as new sessions arrive: the oldest moves on to
the next page, and "Older" leads there, without a reload."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from session_runtime.client import SessionRuntimeClient

from ..support.server import RunningServer
from .seeding import EVENTS, EXPERIENCES, Booth, plan_booth, seed_booth

LIVE_MS = 1000  # "within a second of a change"
PAGE_SIZE = 25


def create_sessions(server: RunningServer, booth: Booth, count: int) -> list[str]:
    """``count`` new sessions through the SDK, as kiosks make them; their ids, oldest first."""
    with SessionRuntimeClient(server.base_url, booth.owner) as client:
        project = client.project(booth.project_id)
        return [
            project.create_session(
                event_id=booth.events[EVENTS[0]],
                experience_id=booth.experiences[EXPERIENCES[number % 3]],
                mode="guest",
                config_source="published",
            ).session_id
            for number in range(count)
        ]


def shown_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("#sessions-body tr").evaluate_all(
        "rows => rows.map(row => row.dataset.id)"
    )
    return ids


def test_page_one_keeps_25_rows_and_the_oldest_moves_to_older(
    page: Page, server: RunningServer, booth: Booth, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, booth.owner)
    rows = page.locator("#sessions-body tr")
    expect(rows).to_have_count(PAGE_SIZE)
    before = shown_ids(page)
    page.evaluate("window.notReloaded = true")

    arrived = create_sessions(server, booth, 12)
    expect(rows.first).to_have_attribute("data-id", arrived[-1], timeout=LIVE_MS)
    expect(rows).to_have_count(PAGE_SIZE)
    expected_first_page = [*reversed(arrived), *before][:PAGE_SIZE]
    expect(rows).to_have_count(PAGE_SIZE)
    assert shown_ids(page) == expected_first_page
    assert page.evaluate("window.notReloaded") is True

    older = page.get_by_role("button", name="Older")
    expect(older).to_be_enabled()
    older.click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(rows.first).to_have_attribute("data-id", before[PAGE_SIZE - 12])
    second_page = shown_ids(page)
    assert second_page[:12] == before[PAGE_SIZE - 12 :]
    assert not set(second_page) & set(expected_first_page)


def test_older_becomes_enabled_once_page_one_overflows(
    page: Page, server: RunningServer, sign_in: Callable[[Page, str], None]
) -> None:
    media = f"{server.base_url}/dashboard/favicon.svg?media=small-"
    small = server.call(
        seed_booth(
            server.service, plan_booth(20), media_url=lambda n: f"{media}{n}", name="Small booth"
        )
    )
    sign_in(page, small.owner)
    rows = page.locator("#sessions-body tr")
    expect(rows).to_have_count(20)
    older = page.get_by_role("button", name="Older")
    expect(older).to_be_disabled()
    before = shown_ids(page)

    arrived = create_sessions(server, small, 8)
    expect(rows.first).to_have_attribute("data-id", arrived[-1], timeout=LIVE_MS)
    expect(rows).to_have_count(PAGE_SIZE)
    assert shown_ids(page) == [*reversed(arrived), *before][:PAGE_SIZE]
    expect(older).to_be_enabled()

    older.click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(rows).to_have_count(3)
    assert shown_ids(page) == before[-3:]
    expect(older).to_be_disabled()
    page.get_by_role("button", name="Newer").click()
    expect(rows).to_have_count(PAGE_SIZE)
    assert shown_ids(page) == [*reversed(arrived), *before][:PAGE_SIZE]
