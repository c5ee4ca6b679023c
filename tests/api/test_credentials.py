"""A token revoked while its connections are open stops working there too.

Over a real server: an open SSE stream ends with an ``error`` event (UNAUTHENTICATED), an open
WebSocket closes with 4401 and a new subscribe on it is refused, whether the token is revoked
through the server's own service or by ``session-runtime tokens revoke`` in another process on
the same database file. A token that was not revoked keeps streaming beside them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from session_runtime import SYSTEM
from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed
from ..support.sse import Event, events
from .test_websocket import receive, socket, subscribe

# Longer than any wait below: a test that needs more is a failure, not a slow pass.
WAIT_SECONDS = 15.0

Revoke = Callable[[RunningServer, str], None]


def revoke_here(server: RunningServer, token_id: str) -> None:
    """Through the server's own service (its token cache forgets at once)."""
    server.call(server.service.revoke_token(SYSTEM, token_id))


def revoke_from_the_command_line(server: RunningServer, token_id: str) -> None:
    """``session-runtime tokens revoke`` in another process, on the server's database file."""
    database = str(server.app.state.settings.database_path)
    command = [sys.executable, "-m", "session_runtime.cli", "tokens", "revoke", token_id]
    result = subprocess.run(
        [*command, "--database", database], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


REVOCATIONS = [
    pytest.param(revoke_here, id="in-process"),
    pytest.param(revoke_from_the_command_line, id="cli-process"),
]


def new_token(server: RunningServer, seeded: Seed, user: str) -> tuple[str, str]:
    record, token = server.call(
        server.service.create_member_token(SYSTEM, seeded.project_id, user=user, role="viewer")
    )
    return record.id, token


def new_session(http: httpx.Client, seeded: Seed) -> str:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers=seeded.headers(seeded.owner),
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


def record_progress(http: httpx.Client, seeded: Seed, session_id: str, step: int) -> None:
    response = http.patch(
        f"/v1/projects/{seeded.project_id}/sessions/{session_id}",
        json={"currentStepIndex": step},
        headers=seeded.headers(seeded.owner),
    )
    assert response.status_code == 200, response.text


def next_event(reader: Iterator[Event], deadline: float) -> Event | None:
    """The next event that is not a heartbeat; ``None`` once the stream has ended."""
    for event in reader:
        if event.event != "comment":
            return event
        assert time.monotonic() < deadline, "the stream kept going"
    return None


def until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Every message up to the close, and the close code the server sent."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_SECONDS
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() < deadline:
            messages.append(receive(ws, timeout=WAIT_SECONDS))
    received = closed.value.rcvd
    return messages, None if received is None else received.code


def unauthenticated(message: dict[str, Any]) -> bool:
    return message["type"] == "error" and message["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("revoke", REVOCATIONS)
def test_an_open_event_stream_ends_when_its_token_is_revoked(
    http: httpx.Client, seeded: Seed, server: RunningServer, revoke: Revoke
) -> None:
    token_id, token = new_token(server, seeded, f"sse-{revoke.__name__}")
    session_id = new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    with (
        http.stream("GET", url, headers=seeded.headers(token)) as doomed,
        http.stream("GET", url, headers=seeded.headers(seeded.viewer)) as kept,
    ):
        doomed_events, kept_events = events(doomed), events(kept)
        deadline = time.monotonic() + WAIT_SECONDS
        assert (first := next_event(doomed_events, deadline)) and first.event == "snapshot"
        assert (first := next_event(kept_events, deadline)) and first.event == "snapshot"

        revoke(server, token_id)
        ending = next_event(doomed_events, deadline)
        assert ending is not None and ending.event == "error"
        body = json.loads(ending.data)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == "UNAUTHENTICATED"
        assert next_event(doomed_events, deadline) is None  # and the stream closed

        record_progress(http, seeded, session_id, 1)
        change = next_event(kept_events, deadline)
        assert change is not None and change.event == "snapshot" and change.id == "2"
    # A new stream with the revoked token is refused before it starts.
    response = http.get(url, headers=seeded.headers(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("revoke", REVOCATIONS)
def test_an_open_websocket_closes_4401_when_its_token_is_revoked(
    http: httpx.Client, seeded: Seed, server: RunningServer, revoke: Revoke
) -> None:
    token_id, token = new_token(server, seeded, f"ws-{revoke.__name__}")
    session_id = new_session(http, seeded)
    with socket(server) as doomed, socket(server, seeded.viewer) as kept:
        doomed.send(json.dumps({"type": "auth", "token": token}))
        assert receive(doomed) == {"type": "authenticated"}
        doomed.send(subscribe("one", seeded.project_id, session_id))
        doomed.send(subscribe("all", seeded.project_id))
        kept.send(subscribe("one", seeded.project_id, session_id))
        assert receive(kept)["type"] == "snapshot"
        assert {receive(doomed)["type"], receive(doomed)["type"]} == {"snapshot", "subscribed"}

        revoke(server, token_id)
        messages, code = until_closed(doomed)
        assert code == 4401
        assert any(unauthenticated(message) for message in messages), messages

        record_progress(http, seeded, session_id, 1)
        change = receive(kept, timeout=WAIT_SECONDS)
        assert change["type"] == "snapshot" and change["session"]["version"] == 2


@pytest.fixture(scope="module")
def slow_rechecking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server that trusts a checked token for a minute: its periodic re-check of open
    connections comes long after the tests below, so what they see is the subscribe's own."""
    folder: Path = tmp_path_factory.mktemp("credentials")
    settings = Settings(database_path=folder / "sessions.db", token_cache_seconds=60)
    with running_server(settings) as running:
        yield running


def test_a_subscribe_after_the_revocation_is_refused_and_the_connection_closes(
    slow_rechecking_server: RunningServer,
) -> None:
    server = slow_rechecking_server
    seeded = server.call(seed(server.service))
    token_id, token = new_token(server, seeded, "ws-subscribe")
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        session_id = new_session(http, seeded)
    with socket(server, token) as ws:
        ws.send(subscribe("before", seeded.project_id, session_id))
        assert receive(ws)["type"] == "snapshot"
        revoke_here(server, token_id)
        ws.send(subscribe("after", seeded.project_id, session_id))
        messages, code = until_closed(ws)
    assert [message["id"] for message in messages if unauthenticated(message)] == ["after"]
    assert not any(message["type"] == "snapshot" for message in messages)
    assert code == 4401
