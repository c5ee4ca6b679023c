"""Fixtures for the dashboard's tests: a real uvicorn on 127.0.0.1 and a real headless Chromium.

- ``browser``: Debian's Chromium driven by Playwright (``SESSION_RUNTIME_CHROMIUM`` names
  another executable); no browser is ever downloaded. Missing, the tests fail and say what to
  install.
- ``server`` / ``booth``: one server for the module, seeded with a photo booth's sessions.
- ``page``: a fresh browser context (its own sessionStorage) at laptop size; at the end of
  the test it checks the page logged no error (a script error, a refused Content-Security-
  Policy, a failed asset; a 401 or 403 the page was meant to show is not one) and asked for
  nothing but this server.
- ``sign_in(page, token)``: pastes a token into the sign-in form.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright

from session_runtime.settings import Settings

from ..support.server import RunningServer, running_server
from .seeding import Booth, SessionPlan, plan_booth, seed_booth

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_executable() -> str:
    path = os.environ.get("SESSION_RUNTIME_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(
            f"Chromium is needed for the browser tests and {path} does not exist: install it "
            "(Debian: apt-get install chromium, or `make chromium`) or set "
            "SESSION_RUNTIME_CHROMIUM to a Chromium executable"
        )
    return path


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for this folder's tests, closed when they are done: Playwright's sync API
    keeps an event loop running in this thread while it is open, which the async tests of
    other folders could not start theirs beside."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def booth_plans() -> list[SessionPlan]:
    return plan_booth(30)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, booth_plans: list[SessionPlan]
) -> Iterator[tuple[RunningServer, Booth]]:
    folder = tmp_path_factory.mktemp("dashboard")
    settings = Settings(database_path=folder / "dashboard.db", token_cache_seconds=0)
    with running_server(settings) as server:
        # Output thumbnails the server itself serves: the tests reach nothing outside.
        media = f"{server.base_url}/dashboard/favicon.svg?media="
        booth = server.call(
            seed_booth(server.service, booth_plans, media_url=lambda n: f"{media}{n}")
        )
        yield server, booth


@pytest.fixture
def server(served: tuple[RunningServer, Booth]) -> RunningServer:
    return served[0]


@pytest.fixture
def booth(served: tuple[RunningServer, Booth]) -> Booth:
    return served[1]


def _is_refusal(text: str) -> bool:
    return "Failed to load resource" in text and (
        "status of 401" in text or "status of 403" in text
    )


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A refused token is an answer the page handles, not a fault of the page.
        if message.type == "error" and not _is_refusal(message.text):
            problems.append(message.text)

    def outside(route: Route) -> None:
        problems.append(f"the page asked for {route.request.url}")
        route.abort()

    # Only this server is ever asked for anything; any other address is a fault of the page.
    context.route(lambda url: not url.startswith(server.base_url), outside)
    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert problems == [], f"the page logged errors: {problems}"


@pytest.fixture
def sign_in() -> Callable[[Page, str], None]:
    def sign(page: Page, token: str) -> None:
        page.goto("/")
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    return sign
