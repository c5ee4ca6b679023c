"""The funnel of each experience, against counts computed from the seeded plans alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from session_runtime.client import SessionRuntimeClient

from ..support.server import RunningServer
from .seeding import EVENTS, EXPERIENCES, Booth, SessionPlan, expected_funnel

READ_FUNNELS = """() => Object.fromEntries([...document.querySelectorAll("article.funnel")].map(
  (card) => [card.querySelector("h3").textContent, {
    total: Number(card.querySelector('[data-count="total"]').dataset.value),
    ...Object.fromEntries([...card.querySelectorAll(".outcome")].map(
      (outcome) => [outcome.dataset.count, Number(outcome.dataset.value)])),
    reached: [...card.querySelectorAll(".step")].map((step) => Number(step.dataset.reached)),
  }]))"""


def funnels_on(page: Page) -> dict[str, Any]:
    shown: dict[str, Any] = page.evaluate(READ_FUNNELS)
    return shown


def test_the_funnel_counts_guest_sessions_and_leaves_previews_out(
    page: Page,
    booth: Booth,
    booth_plans: list[SessionPlan],
    sign_in: Callable[[Page, str], None],
) -> None:
    expected = expected_funnel(booth_plans)
    previews = expected_funnel(booth_plans, mode="preview")
    assert len(expected) == 3 and previews, "the seed has guests of every experience, and previews"
    sign_in(page, booth.viewer)
    page.get_by_role("button", name="Funnel").click()
    cards = page.locator("article.funnel")
    expect(cards).to_have_count(3)
    assert funnels_on(page) == expected
    guests = sum(funnel["total"] for funnel in expected.values())
    expect(page.locator("#funnel-summary")).to_contain_text(f"{guests} guest sessions")
    expect(page.locator("#funnel-summary")).to_contain_text("Preview sessions are not counted")

    page.get_by_label("Mode").select_option("preview")
    expect(cards).to_have_count(len(previews))
    expect(page.locator("#funnel-summary")).to_contain_text("preview sessions")
    assert funnels_on(page) == previews

    page.get_by_label("Mode").select_option("")
    page.get_by_label("Experience").select_option(label=EXPERIENCES[1])
    expect(cards).to_have_count(1)
    assert funnels_on(page) == {EXPERIENCES[1]: expected[EXPERIENCES[1]]}


def test_the_funnel_follows_new_sessions(
    page: Page, server: RunningServer, booth: Booth, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, booth.owner)
    page.get_by_role("button", name="Funnel").click()
    card = page.get_by_role("article", name=f"Funnel of {EXPERIENCES[2]}")
    total = card.locator('[data-count="total"]')
    expect(total).to_be_visible()
    before = int(total.get_attribute("data-value") or "")
    completed = card.locator('[data-count="completed"]')
    completed_before = int(completed.get_attribute("data-value") or "")
    with SessionRuntimeClient(server.base_url, booth.owner) as client:
        project = client.project(booth.project_id)
        # A preview first: the figures that show the guest's completion have seen it too.
        project.create_session(
            event_id=booth.events[EVENTS[0]],
            experience_id=booth.experiences[EXPERIENCES[2]],
            mode="preview",
            config_source="draft",
        )
        created = project.create_session(
            event_id=booth.events[EVENTS[0]],
            experience_id=booth.experiences[EXPERIENCES[2]],
            mode="guest",
            config_source="published",
        )
        project.complete_session(created.session_id)
    expect(completed).to_have_attribute("data-value", str(completed_before + 1), timeout=5000)
    expect(total).to_have_attribute("data-value", str(before + 1))
