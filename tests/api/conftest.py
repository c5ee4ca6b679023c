from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("api")
    settings = Settings(
        database_path=folder / "sessions.db",
        heartbeat_seconds=0.3,
        max_body_bytes=64 * 1024,
        ws_max_message_bytes=4096,
        ws_max_subscriptions=60,
    )
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seed:
    return server.call(seed(server.service))


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client
