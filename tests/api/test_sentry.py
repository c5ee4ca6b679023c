"""Failed operations reach Sentry through a real sentry-sdk client (in-process transport)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from session_runtime.api import create_app
from session_runtime.domain.errors import ValidationError
from session_runtime.observability import report_to_sentry
from session_runtime.service import OperationRecord
from session_runtime.settings import Settings

from ..support.server import running_server, seed


class CapturingTransport(Transport):
    """Keeps every event the client would have sent."""

    events: list[dict[str, Any]]

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                self.events.append(item.payload.json)


@pytest.fixture
def transport() -> Iterator[CapturingTransport]:
    transport = CapturingTransport()
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client for the rest of the suite


def test_unexpected_failures_are_events_and_expected_ones_breadcrumbs(
    tmp_path: Path, transport: CapturingTransport
) -> None:
    settings = Settings(
        database_path=tmp_path / "x.db",
        sentry_dsn="http://key@127.0.0.1:9/1",
        sqlite_busy_timeout_ms=100,
    )
    app = create_app(settings, sentry_options={"transport": transport})
    with running_server(settings, app=app) as server:
        data = server.call(seed(server.service))
        url = f"/v1/projects/{data.project_id}/sessions"
        with httpx.Client(base_url=server.base_url) as http:
            session_id = http.post(
                url, json=data.session_body(), headers=data.headers(data.owner)
            ).json()["sessionId"]
            refused = http.patch(
                f"{url}/{session_id}",
                json={"currentStepIndex": -1},
                headers=data.headers(data.owner),
            )
            assert refused.status_code == 422
            assert transport.events == []

            # Another process holds the write lock past the busy timeout: the write fails.
            blocker = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                down = http.post(f"{url}/{session_id}/complete", headers=data.headers(data.owner))
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "UNAVAILABLE"
            after = http.post(f"{url}/{session_id}/complete", headers=data.headers(data.owner))
            assert after.json()["status"] == "completed"
        sentry_sdk.flush(timeout=2)

    (event,) = [e for e in transport.events if e.get("tags", {}).get("action") == "complete"]
    assert event["tags"]["domain"] == "session"
    assert event["tags"]["code"] == "UNAVAILABLE"
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "UnavailableError"
    assert all(e["tags"].get("code") != "VALIDATION_ERROR" for e in transport.events)
    assert all(data.owner not in str(e) for e in transport.events)


def test_expected_failures_leave_breadcrumbs_on_the_next_event(
    transport: CapturingTransport,
) -> None:
    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", transport=transport)
    with sentry_sdk.isolation_scope():
        refused = OperationRecord("update", 0.001, ValidationError.at("inputs", "bad"))
        report_to_sentry(refused)
        assert transport.events == []
        report_to_sentry(OperationRecord("abandon", 0.001, RuntimeError("a bug")))
    sentry_sdk.flush(timeout=2)
    (event,) = transport.events
    assert event["tags"] == {"domain": "session", "action": "abandon", "code": "INTERNAL"}
    crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "session"]
    assert [c["data"] for c in crumbs] == [
        {"domain": "session", "action": "update", "code": "VALIDATION_ERROR"}
    ]
