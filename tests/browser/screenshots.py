"""Take the README's screenshots of the dashboard: ``python -m tests.browser.screenshots``.

A real server on 127.0.0.1 over a throwaway SQLite file, seeded with a photo booth of a few
dozen sessions of realistic ages (the server's clock is moved back while seeding), whose
output thumbnails the same server draws as small SVG portraits: nothing comes from outside.
Writes ``docs/dashboard-table.png`` and ``docs/dashboard-funnel.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright
from starlette.responses import Response

from session_runtime.api import create_app
from session_runtime.runtime import SessionRuntime
from session_runtime.settings import Settings

from ..support.server import running_server
from .conftest import CHROMIUM_ARGS, chromium_executable
from .seeding import ShiftedClock, plan_booth, seed_booth

DOCS = Path(__file__).resolve().parents[2] / "docs"
PALETTE = ("#f2994a", "#56ccf2", "#bb6bd9", "#6fcf97", "#eb5757", "#f2c94c", "#2f80ed")


def portrait_svg(number: int) -> bytes:
    """A small abstract portrait, different for every number."""
    back, front = PALETTE[number % len(PALETTE)], PALETTE[(number + 3) % len(PALETTE)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 80 80">'
        f'<rect width="80" height="80" fill="{back}"/>'
        f'<circle cx="40" cy="32" r="15" fill="{front}"/>'
        f'<path d="M12 80c2-18 14-28 28-28s26 10 28 28z" fill="{front}"/>'
        '<circle cx="34" cy="30" r="2" fill="#1b1b1b"/>'
        '<circle cx="46" cy="30" r="2" fill="#1b1b1b"/>'
        "</svg>"
    ).encode()


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="dashboard-shots-"))
    settings = Settings(database_path=folder / "booth.db")
    clock = ShiftedClock()
    app = create_app(settings, SessionRuntime.sqlite(settings.database_path, clock=clock))

    @app.get("/thumbs/{number}.svg", include_in_schema=False)
    async def thumbnail(number: int) -> Response:
        return Response(portrait_svg(number), media_type="image/svg+xml")

    with running_server(settings, app=app) as server:
        booth = server.call(
            seed_booth(
                server.service,
                plan_booth(40),
                media_url=lambda n: f"{server.base_url}/thumbs/{n}.svg",
                clock=clock,
            )
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable(), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(server.base_url)
            page.get_by_label("Access token").fill(booth.owner)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            expect(page.locator("#sessions-body tr")).to_have_count(25)
            page.wait_for_load_state("networkidle")
            page.mouse.move(0, 0)  # no row under the pointer
            page.screenshot(path=DOCS / "dashboard-table.png")
            page.get_by_role("button", name="Funnel").click()
            expect(page.locator("article.funnel")).to_have_count(3)
            page.screenshot(path=DOCS / "dashboard-funnel.png", full_page=True)
            browser.close()
    print(f"wrote {DOCS / 'dashboard-table.png'} and {DOCS / 'dashboard-funnel.png'}")


if __name__ == "__main__":
    sys.exit(main())
