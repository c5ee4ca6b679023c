"""The photo-booth example (``examples/photo-booth``) in Chromium, as a team would deploy it.

Its built files (``vite build``) are served by a static server of their own, on another port of
127.0.0.1 and so another origin than the API: every request the app makes is a cross-origin
one, which the browser allows only when the API's ``SESSION_RUNTIME_CORS_ORIGINS`` names the
app's origin.

- ``built_booth()``: the build's folder; a missing build fails the test and says how to make it.
- ``static_site(folder)``: a static server for it, yielding its origin.
- ``api_settings(path, origin)``: the API's settings as ``serve`` reads them from the
  environment, allowing ``origin``.
- ``open_booth(...)``: a browser context at the booth, set up through its form, that records
  what the page logs and every request to anywhere but the app and the API.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    expect,
)

from session_runtime.settings import Settings

BOOTH_BUILD = Path(__file__).resolve().parents[2] / "examples" / "photo-booth" / "dist"
# A live change reaches the page within a second; the margin is for a loaded machine.
LIVE_MS = 10_000


def built_booth() -> Path:
    """The example's ``vite build`` output, which ``make js`` (run by ``make test``) writes."""
    if not (BOOTH_BUILD / "index.html").is_file():
        pytest.fail(
            f"the photo-booth example is not built ({BOOTH_BUILD / 'index.html'} is missing): "
            "run `make js`, or `npm ci && npm run build -w examples/photo-booth`"
        )
    return BOOTH_BUILD


class _QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The tests read the pages, not an access log on stderr."""


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a port of its own and yield that origin (``http://127.0.0.1:P``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFileHandler, directory=folder))
    thread = threading.Thread(target=httpd.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def api_settings(database_path: Path, allowed_origin: str) -> Settings:
    """The settings ``session-runtime serve`` would read with
    ``SESSION_RUNTIME_CORS_ORIGINS=<allowed_origin>`` in its environment."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("SESSION_RUNTIME_CORS_ORIGINS", allowed_origin)
        return Settings(database_path=database_path, token_cache_seconds=0)


@dataclass(frozen=True)
class BoothSetup:
    """What the setup form asks for."""

    api_base_url: str
    project_id: str
    event_id: str
    experience_id: str
    guest_token: str

    def address(self, site: str, **extra: str) -> str:
        """The booth's address with the non-secret values in its query string (never the token)."""
        query = {
            "api": self.api_base_url,
            "project": self.project_id,
            "event": self.event_id,
            "experience": self.experience_id,
            **extra,
        }
        return f"{site}/?{urlencode(query)}"


@dataclass
class BoothContext:
    """A browser context (its own localStorage) at the booth, and what its pages logged."""

    context: BrowserContext
    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    # Each SSE stream a page asked for, with its Last-Event-ID header (None: a fresh start).
    streams: list[tuple[Page, str | None]] = field(default_factory=list)

    def open_watcher(self) -> Page:
        """Follow the booth's link to a second screen that watches the current session."""
        with self.page.expect_popup() as popup:
            self.page.get_by_role("link", name="Follow this session on another screen").click()
        return popup.value

    def close(self) -> None:
        self.context.close()


def open_booth(browser: Browser, site: str, setup: BoothSetup) -> BoothContext:
    """Open the booth at ``site`` with the ids in its address, paste the token and save."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = BoothContext(context=context, page=context.new_page())

    def on_request(request: Request) -> None:
        # The app asks for nothing but its own files and the API. Watched, not intercepted:
        # Playwright answers CORS preflights itself for requests it intercepts, which would
        # let a refused origin through.
        if not request.url.startswith((f"{site}/", f"{setup.api_base_url}/")):
            opened.outside_requests.append(request.url)
        elif request.url.endswith("/events") and request.method == "GET":
            opened.streams.append((request.frame.page, request.headers.get("last-event-id")))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            opened.console_errors.append(message.text)

    context.on("request", on_request)
    context.on("console", on_console)
    context.on("weberror", lambda error: opened.page_errors.append(str(error.error)))

    page = opened.page
    page.goto(setup.address(site))
    expect(page.get_by_label("API base URL")).to_have_value(setup.api_base_url)
    expect(page.get_by_label("Project id")).to_have_value(setup.project_id)
    page.get_by_label("Guest token").fill(setup.guest_token)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Welcome to the photo booth")).to_be_visible()
    return opened


def session_panel(page: Page) -> Locator:
    return page.locator(".session-panel")


def expect_live(page: Page, *, version: int, step: int, status: str = "active") -> None:
    """The page's live panel shows exactly this version of the session."""
    panel = session_panel(page)
    expect(panel).to_have_attribute("data-version", str(version), timeout=LIVE_MS)
    expect(panel).to_have_attribute("data-step", str(step))
    expect(panel).to_have_attribute("data-status", status)


def shown_session_id(page: Page) -> str:
    return session_panel(page).locator("code").inner_text()


def start(page: Page) -> str:
    """Press Start and wait for the session the server created; returns its id."""
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="What is your name?")).to_be_visible(timeout=LIVE_MS)
    expect_live(page, version=1, step=0)
    return shown_session_id(page)


def enter_name(page: Page, name: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Next").click()


def capture(page: Page, picture: str) -> None:
    page.get_by_role("button", name=picture).click()


def finish(page: Page) -> None:
    page.get_by_role("button", name="Finish").click()
