"""The photo-booth example end to end: a guest's flow in Chromium, from the app's own origin.

The app is the ``vite build`` of ``examples/photo-booth`` on a static server of its own port
(another origin); the API allows that origin through ``SESSION_RUNTIME_CORS_ORIGINS``. What
the browser shows is checked against what the API stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from session_runtime.client import SessionRuntimeClient

from ..support.server import RunningServer, Seed, running_server, seed
from .photo_booth import (
    LIVE_MS,
    BoothContext,
    BoothSetup,
    api_settings,
    built_booth,
    capture,
    enter_name,
    expect_live,
    finish,
    open_booth,
    start,
    static_site,
)

# Stopping a server cuts the SSE streams the pages hold instead of waiting for them.
GRACEFUL_SHUTDOWN_SECONDS = 1


@pytest.fixture(scope="module")
def booth_build() -> Path:
    return built_booth()


@pytest.fixture(scope="module")
def booth_site(booth_build: Path) -> Iterator[str]:
    """The origin the API allows."""
    with static_site(booth_build) as origin:
        yield origin


@pytest.fixture(scope="module")
def foreign_site(booth_build: Path) -> Iterator[str]:
    """The same app from an origin the API does not allow."""
    with static_site(booth_build) as origin:
        yield origin


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, booth_site: str
) -> Iterator[tuple[RunningServer, Seed]]:
    settings = api_settings(tmp_path_factory.mktemp("booth") / "booth.db", booth_site)
    with running_server(settings, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS) as server:
        yield server, server.call(seed(server.service))


def guest_setup(server: RunningServer, world: Seed, *, event_id: str | None = None) -> BoothSetup:
    return BoothSetup(
        api_base_url=server.base_url,
        project_id=world.project_id,
        event_id=event_id or world.event_id,
        experience_id=world.experience_id,
        guest_token=world.guest,
    )


@pytest.fixture
def booths(browser: Browser) -> Iterator[list[BoothContext]]:
    """The booths a test opened; each is closed after it and must have asked for nothing but
    the app and the API, and thrown nothing."""
    opened: list[BoothContext] = []
    yield opened
    for booth in opened:
        booth.close()
    for booth in opened:
        assert booth.outside_requests == [], "the app asked for something outside"
        assert booth.page_errors == [], "the app threw"


def sessions_of_event(server: RunningServer, world: Seed, event_id: str) -> int:
    with SessionRuntimeClient(server.base_url, world.owner) as client:
        page = client.project(world.project_id).list_sessions(event_id=event_id, limit=100)
    return len(page.items)


def test_a_guest_runs_the_flow_and_the_api_stored_each_step(
    browser: Browser,
    booth_site: str,
    api: tuple[RunningServer, Seed],
    booths: list[BoothContext],
) -> None:
    server, world = api
    booth = open_booth(browser, booth_site, guest_setup(server, world))
    booths.append(booth)
    page = booth.page

    session_id = start(page)
    enter_name(page, "Ada")
    expect(page.get_by_role("heading", name="Strike a pose")).to_be_visible(timeout=LIVE_MS)
    expect_live(page, version=2, step=1)
    expect(page.locator('[data-fact="inputs"]')).to_contain_text('"name": "Ada"')
    capture(page, "Forest")
    expect(page.get_by_role("heading", name="Looking good, Ada!")).to_be_visible(timeout=LIVE_MS)
    expect_live(page, version=3, step=2)
    expect(page.locator('[data-fact="outputs"]')).to_contain_text("sample-forest")
    finish(page)
    thanks = page.get_by_role("heading", name="Thank you, Ada! Your picture is saved.")
    expect(thanks).to_be_visible(timeout=LIVE_MS)
    expect_live(page, version=4, step=2, status="completed")

    with SessionRuntimeClient(server.base_url, world.guest) as client:
        stored = client.project(world.project_id).get_session(session_id)
    assert stored.status == "completed"
    assert stored.current_step_index == 2
    assert stored.inputs == {"name": "Ada"}
    assert stored.outputs == {
        "portrait": {"mediaAssetId": "sample-forest", "url": f"{booth_site}/samples/forest.svg"}
    }
    assert (stored.mode, stored.config_source, stored.event_id) == (
        "guest",
        "published",
        world.event_id,
    )
    assert stored.version == 4
    assert stored.completed_at == stored.updated_at
    assert booth.console_errors == []


def test_a_second_screen_sees_every_step_live(
    browser: Browser,
    booth_site: str,
    api: tuple[RunningServer, Seed],
    booths: list[BoothContext],
) -> None:
    server, world = api
    booth = open_booth(browser, booth_site, guest_setup(server, world))
    booths.append(booth)
    page = booth.page
    session_id = start(page)
    watcher = booth.open_watcher()
    expect_live(watcher, version=1, step=0)
    expect(watcher.locator(".session-panel code")).to_have_text(session_id)

    # Each step reaches the watcher before the guest takes the next one.
    enter_name(page, "Grace")
    expect_live(watcher, version=2, step=1)
    expect(watcher.locator('[data-fact="inputs"]')).to_contain_text('"name": "Grace"')
    capture(page, "Harbor")
    expect_live(watcher, version=3, step=2)
    expect(watcher.locator('[data-fact="outputs"]')).to_contain_text("sample-harbor")
    finish(page)
    expect_live(watcher, version=4, step=2, status="completed")
    expect(watcher.get_by_role("status")).to_have_text(
        "This session has ended: it will not change."
    )
    assert booth.console_errors == []


def test_a_token_never_comes_from_or_goes_into_an_address(
    browser: Browser,
    booth_site: str,
    api: tuple[RunningServer, Seed],
    booths: list[BoothContext],
) -> None:
    server, world = api
    setup = guest_setup(server, world)
    context = browser.new_context()
    page = context.new_page()
    page.goto(setup.address(booth_site, token=world.guest))
    # The ids are taken from the address; the token is not.
    expect(page.get_by_label("Event id")).to_have_value(world.event_id)
    expect(page.get_by_label("Guest token")).to_have_value("")
    context.close()

    booth = open_booth(browser, booth_site, setup)
    booths.append(booth)
    start(booth.page)
    link = booth.page.get_by_role("link", name="Follow this session on another screen")
    href = link.get_attribute("href") or ""
    assert "watch=" in href
    assert world.guest not in href
    assert world.guest not in booth.page.url


def test_a_guest_who_leaves_abandons_the_session(
    browser: Browser,
    booth_site: str,
    api: tuple[RunningServer, Seed],
    booths: list[BoothContext],
) -> None:
    server, world = api
    booth = open_booth(browser, booth_site, guest_setup(server, world))
    booths.append(booth)
    page = booth.page
    session_id = start(page)
    enter_name(page, "Linus")
    expect_live(page, version=2, step=1)
    page.get_by_role("button", name="Leave").click()
    expect(page.get_by_role("heading", name="This session was abandoned.")).to_be_visible(
        timeout=LIVE_MS
    )
    expect_live(page, version=3, step=1, status="abandoned")

    with SessionRuntimeClient(server.base_url, world.guest) as client:
        stored = client.project(world.project_id).get_session(session_id)
    assert (stored.status, stored.version, stored.inputs) == ("abandoned", 3, {"name": "Linus"})

    page.get_by_role("button", name="Next guest").click()
    expect(page.get_by_role("heading", name="Welcome to the photo booth")).to_be_visible()


def test_a_bad_token_shows_the_contracts_unauthenticated_error(
    browser: Browser,
    booth_site: str,
    api: tuple[RunningServer, Seed],
    booths: list[BoothContext],
) -> None:
    server, world = api
    setup = guest_setup(server, world, event_id=world.other_event_id)
    bad = replace(setup, guest_token="srt_not-a-token-anyone-was-given")
    booth = open_booth(browser, booth_site, bad)
    booths.append(booth)
    page = booth.page

    page.get_by_role("button", name="Start").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not start:")
    expect(alert).to_contain_text("UNAUTHENTICATED: ")
    expect(page.get_by_role("heading", name="Welcome to the photo booth")).to_be_visible()
    assert sessions_of_event(server, world, world.other_event_id) == 0
    # The browser logs the refused request; nothing else went wrong.
    assert booth.console_errors, "the browser logged no refused request"
    assert all("status of 401" in text for text in booth.console_errors), booth.console_errors


def test_an_origin_the_api_does_not_allow_is_refused_by_the_browser(
    browser: Browser,
    foreign_site: str,
    api: tuple[RunningServer, Seed],
    booths: list[BoothContext],
) -> None:
    server, world = api
    booth = open_booth(
        browser, foreign_site, guest_setup(server, world, event_id=world.other_event_id)
    )
    booths.append(booth)
    page = booth.page

    page.get_by_role("button", name="Start").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not start:")
    # fetch() only says it failed: the client calls that the server's being out of reach.
    expect(alert).to_contain_text("UNAVAILABLE: ")
    refusals = [text for text in booth.console_errors if "blocked by CORS policy" in text]
    assert refusals, booth.console_errors
    assert f"from origin '{foreign_site}'" in refusals[0]
    assert f"{server.base_url}/v1/projects/{world.project_id}/sessions" in refusals[0]
    # Refused at the preflight: the request itself was never sent.
    assert "Response to preflight request doesn't pass access control check" in refusals[0]
    assert sessions_of_event(server, world, world.other_event_id) == 0


def test_a_server_restart_mid_flow_resumes_with_nothing_missed(
    browser: Browser, booth_site: str, tmp_path: Path, booths: list[BoothContext]
) -> None:
    settings = api_settings(tmp_path / "restart.db", booth_site)
    with running_server(settings, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS) as first:
        port = first.port
        world = first.call(seed(first.service))
        booth = open_booth(browser, booth_site, guest_setup(first, world))
        booths.append(booth)
        page = booth.page
        session_id = start(page)
        enter_name(page, "Edsger")
        expect_live(page, version=2, step=1)
        watcher = booth.open_watcher()
        expect_live(watcher, version=2, step=1)

    # While no server answers, both screens say so and keep what they last had.
    for screen in (watcher, page):
        outage = screen.locator(".session-panel").get_by_role("alert")
        expect(outage).to_contain_text("Live updates: UNAVAILABLE: ", timeout=LIVE_MS)
        expect_live(screen, version=2, step=1)

    # The same database on the same port: for the pages, the same API came back. A change made
    # before they reconnect must still reach them.
    with running_server(
        settings, port=port, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS
    ) as second:
        with SessionRuntimeClient(second.base_url, world.guest) as client:
            client.project(world.project_id).update_session_progress(
                session_id, inputs={"mood": "curious"}
            )
        for screen in (watcher, page):
            expect_live(screen, version=3, step=1)
            expect(screen.locator('[data-fact="inputs"]')).to_contain_text('"mood": "curious"')
            expect(screen.get_by_role("alert")).to_have_count(0)
        # Both screens came back by resuming their streams after version 2, the last they had.
        for screen in (watcher, page):
            assert (screen, "2") in booth.streams

        capture(page, "Sunrise")
        expect_live(watcher, version=4, step=2)
        finish(page)
        expect_live(watcher, version=5, step=2, status="completed")
        with SessionRuntimeClient(second.base_url, world.guest) as client:
            stored = client.project(world.project_id).get_session(session_id)
    assert (stored.status, stored.version) == ("completed", 5)
    assert stored.inputs == {"name": "Edsger", "mood": "curious"}
    assert stored.outputs["portrait"]["mediaAssetId"] == "sample-sunrise"
