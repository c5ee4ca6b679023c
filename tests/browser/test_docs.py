"""``/docs`` renders every operation in a real Chromium that may reach nothing but this
server: Swagger UI comes from the installed package, not from a CDN."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Route, expect

from ..support.server import RunningServer

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def test_the_api_documentation_renders_without_the_internet(
    browser: Browser, server: RunningServer
) -> None:
    schema = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    operations = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    ]
    assert len(operations) > 10

    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 800})
    outside: list[str] = []
    problems: list[str] = []

    def elsewhere(route: Route) -> None:
        outside.append(route.request.url)
        route.abort()

    # As on a machine with no internet: anything not to this server fails at once.
    context.route(lambda url: not url.startswith(server.base_url), elsewhere)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # a refused policy, a failed script
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto("/docs")
        blocks = page.locator(".opblock")
        expect(blocks).to_have_count(len(operations), timeout=15_000)
        expect(page.locator(".info .title")).to_contain_text("session-runtime")
        shown = set(
            zip(
                page.locator(".opblock-summary-method").all_inner_texts(),
                [text.replace("\u200b", "") for text in
                 page.locator(".opblock-summary-path").all_inner_texts()],
                strict=True,
            )
        )  # fmt: skip
        assert shown == set(operations)

        # "Try it out" reaches this server under the page's policy (no token: a 401 shown).
        me = page.locator(".opblock-get", has=page.locator('[data-path="/v1/me"]'))
        me.locator(".opblock-summary").click()
        me.get_by_role("button", name="Try it out").click()
        me.get_by_role("button", name="Execute").click()
        expect(
            me.locator(".live-responses-table td.response-col_status:not(.col_header)")
        ).to_have_text("401")
    finally:
        context.close()
    assert outside == [], f"the page asked for {len(outside)} outside addresses: {outside}"
    # The one console error is the refused request that "Try it out" made on purpose.
    assert [problem for problem in problems if "status of 401" not in problem] == []
