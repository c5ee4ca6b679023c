"""The dashboard's Content-Security-Policy, as a real Chromium enforces it: the page's own
WebSocket connects, and a WebSocket to any other address is refused before it is opened."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from ..support.server import RunningServer
from .seeding import Booth


class OtherServer:
    """A WebSocket server on another port of this machine that counts who reached it."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handle(self, connection: ServerConnection) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionClosed):
            connection.send("hello from elsewhere")

    def __enter__(self) -> OtherServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def other_server() -> Iterator[OtherServer]:
    with OtherServer() as other:
        yield other


# Settles on the first answer: the socket opened, the policy refused it, or it failed; a ten
# second bound only keeps a broken page from hanging the test.
TRY_WEBSOCKET = """url => new Promise(resolve => {
  const seen = { violations: [], opened: false, failed: false, thrown: null, timedOut: false };
  const done = () => resolve(seen);
  document.addEventListener("securitypolicyviolation", event => {
    seen.violations.push({ blocked: event.blockedURI, directive: event.effectiveDirective });
    done();
  });
  setTimeout(() => { seen.timedOut = true; done(); }, 10000);
  let socket;
  try {
    socket = new WebSocket(url);
  } catch (error) {
    seen.thrown = error.name;
    return;
  }
  socket.addEventListener("open", () => { seen.opened = true; socket.close(); done(); });
  socket.addEventListener("error", () => { seen.failed = true; });
})"""


def test_the_page_may_open_websockets_to_this_server_only(
    browser: Browser,
    server: RunningServer,
    booth: Booth,
    other_server: OtherServer,
    sign_in: Callable[[Page, str], None],
) -> None:
    context = browser.new_context(base_url=server.base_url)
    page = context.new_page()
    try:
        sign_in(page, booth.owner)  # the dashboard's own WebSocket is live under the policy
        expect(page.locator("#sessions-body tr")).to_have_count(25)

        here: dict[str, Any] = page.evaluate(TRY_WEBSOCKET, server.ws_url)
        assert here["opened"] is True and here["violations"] == []
        assert here["timedOut"] is False

        elsewhere = f"ws://127.0.0.1:{other_server.port}/"
        refused: dict[str, Any] = page.evaluate(TRY_WEBSOCKET, elsewhere)
        assert refused["opened"] is False and refused["timedOut"] is False
        assert [violation["directive"] for violation in refused["violations"]] == ["connect-src"]
        assert refused["violations"][0]["blocked"].startswith(f"ws://127.0.0.1:{other_server.port}")
        assert other_server.connections == 0
    finally:
        context.close()
