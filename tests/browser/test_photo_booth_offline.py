"""The photo booth's offline mode in Chromium: writes made while the browser is offline survive a
reload and land exactly once when it is back online.

The page goes offline (``context.set_offline``), starts a session and records a name, so a
create and a progress update wait in TanStack Query's paused mutations, persisted to IndexedDB.
It is reloaded while still offline (the reload itself fails: nothing can be fetched), then
comes back online and opens the booth again: the restored writes are sent with the keys they
were made with, and the API holds one session at version 2 with the name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Page, expect

from session_runtime import NotFoundError, Session
from session_runtime.api import create_app
from session_runtime.client import SessionRuntimeClient
from session_runtime.runtime import SessionRuntime

from ..support.postgres import PostgresDatabase
from ..support.server import RunningServer, Seed, running_server, seed
from .photo_booth import (
    BoothContext,
    BoothSetup,
    api_settings,
    built_booth,
    enter_name,
    open_booth,
    static_site,
)

# The IndexedDB database and store of idb-keyval, and the key the provider persists under.
PERSISTED_WRITES_SCRIPT = """
async () => {
  const database = await new Promise((resolve, reject) => {
    const request = indexedDB.open('keyval-store')
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
  try {
    if (!database.objectStoreNames.contains('keyval')) return null
    return await new Promise((resolve, reject) => {
      const request = database
        .transaction('keyval', 'readonly')
        .objectStore('keyval')
        .get('session-runtime-offline')
      request.onsuccess = () => resolve(request.result ?? null)
      request.onerror = () => reject(request.error)
    })
  } finally {
    database.close()
  }
}
"""


@pytest.fixture(scope="module")
def booth_site() -> Iterator[str]:
    with static_site(built_booth()) as origin:
        yield origin


@pytest.fixture(params=["sqlite", "postgres"])
def api(
    request: pytest.FixtureRequest, tmp_path: Path, booth_site: str
) -> Iterator[tuple[RunningServer, Seed]]:
    """The API on each store, allowing the booth's origin."""
    settings = api_settings(tmp_path / "offline.db", booth_site)
    if request.param == "sqlite":

        def runtime() -> SessionRuntime:
            return SessionRuntime.sqlite(settings.database_path)
    else:
        database: PostgresDatabase = request.getfixturevalue("postgres")
        schema = database.new_schema()

        def runtime() -> SessionRuntime:
            return SessionRuntime.postgres(database.dsn, schema=schema)

    async def seeded() -> Seed:
        async with runtime() as opened:
            return await seed(opened.service)

    # Playwright's sync API runs an event loop in this thread: seed from another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        world = pool.submit(asyncio.run, seeded()).result(timeout=60)
    with running_server(
        settings, app=create_app(settings, runtime()), graceful_shutdown_seconds=1
    ) as server:
        yield server, world


def persisted_writes(page: Page) -> list[dict[str, Any]]:
    """The writes the page's persister stored, oldest first (empty before the first save)."""
    text = page.evaluate(PERSISTED_WRITES_SCRIPT)
    if text is None:
        return []
    mutations: list[dict[str, Any]] = json.loads(text)["clientState"]["mutations"]
    return mutations


def wait_for_persisted_writes(page: Page, count: int) -> list[dict[str, Any]]:
    """Poll IndexedDB (bounded in tries and time) until it holds ``count`` writes."""
    for _ in range(200):
        writes = persisted_writes(page)
        if len(writes) >= count:
            return writes
        page.wait_for_timeout(50)
    raise AssertionError(f"IndexedDB never held {count} writes: {persisted_writes(page)}")


def test_writes_made_offline_survive_a_reload_and_land_once(
    browser: Browser, booth_site: str, api: tuple[RunningServer, Seed]
) -> None:
    server, world = api
    setup = BoothSetup(
        api_base_url=server.base_url,
        project_id=world.project_id,
        event_id=world.event_id,
        experience_id=world.experience_id,
        guest_token=world.guest,
    )
    booth: BoothContext = open_booth(browser, booth_site, setup)
    try:
        page = booth.page
        booth.context.set_offline(True)
        page.wait_for_function("() => navigator.onLine === false")
        page.get_by_role("button", name="Start").click()
        # The flow goes on offline: the session id was chosen by the page.
        expect(page.get_by_role("heading", name="What is your name?")).to_be_visible()
        enter_name(page, "Ada")
        expect(page.get_by_role("heading", name="Strike a pose")).to_be_visible()
        expect(page.locator("[data-waiting-writes]")).to_have_attribute("data-waiting-writes", "2")

        writes = wait_for_persisted_writes(page, 2)
        create, update = (write["state"]["variables"] for write in writes)
        session_id = create["sessionId"]
        assert update["sessionId"] == session_id
        assert update["inputs"] == {"name": "Ada"}
        keys = [create["idempotencyKey"], update["idempotencyKey"]]
        assert all(keys) and keys[0] != keys[1]

        # Reloaded while offline: the page cannot even load. (A request Chromium had already
        # sent may have reached the server while its answer was lost: the replay of its key
        # then applies nothing twice, which the end checks.)
        with pytest.raises(Error, match="ERR_INTERNET_DISCONNECTED"):
            page.reload()

        booth.context.set_offline(False)
        page.goto(setup.address(booth_site))
        expect(page.get_by_role("heading", name="Welcome to the photo booth")).to_be_visible()

        with SessionRuntimeClient(server.base_url, world.owner) as client:
            project = client.project(world.project_id)
            stored: Session | None = None
            for _ in range(200):
                try:
                    stored = project.get_session(session_id)
                except NotFoundError:
                    stored = None
                if stored is not None and stored.version >= 2 and persisted_writes(page) == []:
                    break
                page.wait_for_timeout(50)
            else:
                raise AssertionError(
                    f"the writes never landed: {persisted_writes(page)}, {booth.console_errors}"
                )
            # Nothing more arrives later: every write has left the page's queue.
            assert (stored.version, stored.current_step_index) == (2, 1)
            assert stored.inputs == {"name": "Ada"}
            sessions = project.list_sessions(event_id=world.event_id).items
            assert [session.id for session in sessions] == [session_id]
        assert booth.page_errors == []
    finally:
        booth.close()
