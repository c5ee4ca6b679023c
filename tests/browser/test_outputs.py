"""Outputs that are not loadable images: a label that fits the media and a link, never a
broken-image icon, in the table and in the detail view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Route, expect

from session_runtime import SYSTEM

from ..support.server import RunningServer
from .seeding import EVENTS, EXPERIENCES, Booth

LIVE_MS = 1000

# Per output of the cell or dialog: its kind, its link, and whether an image in it failed.
READ_OUTPUTS = """element => [...element.querySelectorAll("a")].map(link => {
  const image = link.querySelector("img");
  return {
    href: link.href,
    kind: link.dataset.kind || (image ? "image" : null),
    text: link.textContent.trim(),
    label: link.getAttribute("aria-label") || link.title,
    loaded: image ? image.complete && image.naturalWidth > 0 : null,
  };
})"""
BROKEN_IMAGES = """element => [...element.querySelectorAll("img")].filter(
  image => image.complete && image.naturalWidth === 0).length"""


@pytest.fixture
def watched_page(browser: Browser, server: RunningServer) -> Iterator[tuple[Page, list[str]]]:
    """A page that may reach only this server, with the errors it logged (the missing image
    the test asks for is expected to log one 404)."""
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 800})
    problems: list[str] = []

    def outside(route: Route) -> None:
        problems.append(f"the page asked for {route.request.url}")
        route.abort()

    context.route(lambda url: not url.startswith(server.base_url), outside)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield page, problems
    finally:
        context.close()


def outputs_in(element: Locator) -> dict[str, dict[str, Any]]:
    found: list[dict[str, Any]] = element.evaluate(READ_OUTPUTS)
    return {entry["href"]: entry for entry in found}


def test_videos_and_failed_images_get_a_fallback_with_a_link(
    watched_page: tuple[Page, list[str]], server: RunningServer, booth: Booth
) -> None:
    page, problems = watched_page
    image = f"{server.base_url}/dashboard/favicon.svg?media=photo"
    video = f"{server.base_url}/media/clip.mp4"
    missing = f"{server.base_url}/media/missing-photo.jpg"
    page.goto("/")
    page.get_by_label("Access token").fill(booth.owner)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    service = server.service
    created = server.call(
        service.create_session(
            SYSTEM,
            {
                "projectId": booth.project_id,
                "eventId": booth.events[EVENTS[0]],
                "experienceId": booth.experiences[EXPERIENCES[0]],
                "mode": "guest",
                "configSource": "published",
            },
        )
    )
    outputs = {
        "portrait": {"mediaAssetId": "m-photo", "url": image},
        "clip": {"mediaAssetId": "m-clip", "url": video},
        "print": {"mediaAssetId": "m-print", "url": missing},
    }
    server.call(
        service.update_session_progress(
            SYSTEM,
            booth.project_id,
            {"sessionId": created.session_id, "currentStepIndex": 2, "outputs": outputs},
        )
    )
    row = page.locator(f'#sessions-body tr[data-id="{created.session_id}"]')
    cell = row.locator(".cell-outputs")
    expect(row).to_have_attribute("data-version", "2", timeout=LIVE_MS)
    expect(cell.locator('a[data-kind="file"]')).to_have_count(1)  # once the image has failed
    shown = outputs_in(cell)
    assert shown.keys() == {image, video, missing}
    assert shown[image]["kind"] == "image" and shown[image]["loaded"] is True
    assert shown[video]["kind"] == "video" and shown[video]["loaded"] is None
    assert "video" in shown[video]["text"].lower() and "clip" in shown[video]["label"]
    assert shown[missing]["kind"] == "file" and shown[missing]["loaded"] is None
    assert "file" in shown[missing]["text"].lower() and "print" in shown[missing]["label"]
    assert cell.evaluate(BROKEN_IMAGES) == 0

    row.locator(".row-open").click()
    detail = page.locator("#detail-outputs")
    expect(detail.locator('a[data-kind="file"]')).to_have_count(1)
    large = outputs_in(detail)
    assert large.keys() == {image, video, missing}
    assert [large[url]["kind"] for url in (image, video, missing)] == ["image", "video", "file"]
    assert large[image]["loaded"] is True
    assert detail.evaluate(BROKEN_IMAGES) == 0
    # The video is never fetched as an image; the missing image was asked for and refused.
    assert all("clip.mp4" not in problem for problem in problems)
    assert [problem for problem in problems if "404" not in problem] == []
