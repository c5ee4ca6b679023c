"""The WebSocket protocol over a real server: many subscriptions on one connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ..support.server import RunningServer, Seed


@contextmanager
def socket(server: RunningServer, token: str | None = None) -> Iterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with connect(server.ws_url, additional_headers=headers, open_timeout=5) as ws:
        yield ws


def receive(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def subscribe(subscription_id: str, project_id: str, session_id: str | None = None) -> str:
    message = {"type": "subscribe", "id": subscription_id, "projectId": project_id}
    if session_id is not None:
        message["sessionId"] = session_id
    return json.dumps(message)


def new_sessions(http: httpx.Client, seeded: Seed, count: int, token: str = "") -> list[str]:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    headers = seeded.headers(token or seeded.owner)
    return [
        http.post(url, json=seeded.session_body(), headers=headers).json()["sessionId"]
        for _ in range(count)
    ]


def test_fifty_sessions_multiplexed_on_one_connection(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    ids = new_sessions(http, seeded, 50)
    with socket(server, seeded.viewer) as ws:
        for index, session_id in enumerate(ids):
            ws.send(subscribe(f"s{index}", seeded.project_id, session_id))
        first = {}
        while len(first) < 50:
            message = receive(ws)
            assert message["type"] == "snapshot"
            first[message["id"]] = message["session"]["version"]
        assert set(first.values()) == {1}
        headers = seeded.headers(seeded.owner)
        for session_id in ids:
            http.patch(
                f"/v1/projects/{seeded.project_id}/sessions/{session_id}",
                json={"currentStepIndex": 4, "inputs": {"seen": session_id}},
                headers=headers,
            )
        latest: dict[str, dict[str, Any]] = {}
        while len(latest) < 50:
            message = receive(ws)
            assert message["type"] == "snapshot"
            latest[message["id"]] = message["session"]
        for index, session_id in enumerate(ids):
            session = latest[f"s{index}"]
            assert session["id"] == session_id
            assert (session["version"], session["inputs"]) == (2, {"seen": session_id})


def test_auth_by_message_then_end_after_completion(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    (session_id,) = new_sessions(http, seeded, 1)
    with socket(server) as ws:
        ws.send(subscribe("a", seeded.project_id, session_id))
        refused = receive(ws)
        assert (refused["type"], refused["error"]["code"]) == ("error", "UNAUTHENTICATED")
        ws.send(json.dumps({"type": "auth", "token": seeded.owner}))
        assert receive(ws) == {"type": "authenticated"}
        ws.send(subscribe("a", seeded.project_id, session_id))
        assert receive(ws)["session"]["version"] == 1
        http.post(
            f"/v1/projects/{seeded.project_id}/sessions/{session_id}/complete",
            headers=seeded.headers(seeded.owner),
        )
        snapshot = receive(ws)
        assert snapshot["session"]["status"] == "completed"
        assert receive(ws) == {"type": "end", "id": "a", "status": "completed"}
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws) == {"type": "pong"}


def test_a_bad_token_closes_the_connection(server: RunningServer) -> None:
    with socket(server) as ws:
        ws.send(json.dumps({"type": "auth", "token": "srt_wrong-wrong-wrong-wrong"}))
        error = receive(ws)
        assert error["error"]["code"] == "UNAUTHENTICATED"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with socket(server, "srt_wrong-wrong-wrong-wrong") as ws:
        assert receive(ws)["error"]["code"] == "UNAUTHENTICATED"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_errors_stay_with_their_subscription(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    (mine,) = new_sessions(http, seeded, 1, token=seeded.guest)
    (theirs,) = new_sessions(http, seeded, 1, token=seeded.other_guest)
    with socket(server, seeded.guest) as ws:
        cases: list[tuple[Any, str]] = [
            ("not json", "VALIDATION_ERROR"),
            ("[1]", "VALIDATION_ERROR"),
            (json.dumps({"type": "dance"}), "VALIDATION_ERROR"),
            (json.dumps({"type": "subscribe", "projectId": seeded.project_id}), "VALIDATION_ERROR"),
            (
                subscribe("x", seeded.project_id, theirs),
                "PERMISSION_DENIED",
            ),
            (
                json.dumps(
                    {
                        "type": "subscribe",
                        "id": "y",
                        "projectId": seeded.project_id,
                        "sessionId": "missing",
                    }
                ),
                "NOT_FOUND",
            ),
            (
                json.dumps({"type": "subscribe", "id": "z", "projectId": seeded.project_id}),
                "PERMISSION_DENIED",
            ),
            (
                subscribe("w", seeded.other_project_id, mine),
                "PERMISSION_DENIED",
            ),
            (json.dumps({"type": "unsubscribe", "id": "never"}), "VALIDATION_ERROR"),
            ("x" * 5000, "RESOURCE_EXHAUSTED"),
        ]
        for raw, code in cases:
            ws.send(raw)
            message = receive(ws)
            assert (message["type"], message["error"]["code"]) == ("error", code), raw[:80]
            assert theirs not in json.dumps(message.get("error", {}).get("details"))
        ws.send(subscribe("ok", seeded.project_id, mine))
        assert receive(ws)["session"]["id"] == mine
        ws.send(subscribe("ok", seeded.project_id, mine))
        duplicate = receive(ws)
        assert (duplicate["id"], duplicate["error"]["code"]) == ("ok", "VALIDATION_ERROR")
        ws.send(json.dumps({"type": "unsubscribe", "id": "ok"}))
        assert receive(ws) == {"type": "unsubscribed", "id": "ok"}


def test_a_member_follows_the_whole_project(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    with socket(server, seeded.viewer) as ws:
        ws.send(json.dumps({"type": "subscribe", "id": "all", "projectId": seeded.project_id}))
        assert receive(ws) == {"type": "subscribed", "id": "all"}
        ids = new_sessions(http, seeded, 3)
        http.patch(
            f"/v1/projects/{seeded.project_id}/sessions/{ids[0]}",
            json={"currentStepIndex": 2},
            headers=seeded.headers(seeded.owner),
        )
        seen: dict[str, int] = {}
        deadline = time.monotonic() + 5
        while (len(seen) < 3 or seen.get(ids[0]) != 2) and time.monotonic() < deadline:
            message = receive(ws)
            assert message["type"] == "change" and message["id"] == "all"
            seen[message["session"]["id"]] = message["session"]["version"]
        assert seen == {ids[0]: 2, ids[1]: 1, ids[2]: 1}


def test_subscriptions_per_connection_are_capped(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    cap = server.app.state.settings.ws_max_subscriptions
    (session_id,) = new_sessions(http, seeded, 1)
    with socket(server, seeded.owner) as ws:
        for index in range(cap + 1):
            ws.send(subscribe(f"n{index}", seeded.project_id, session_id))
        messages = [receive(ws) for _ in range(cap + 1)]
    errors = [m for m in messages if m["type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["error"]["code"] == "RESOURCE_EXHAUSTED"
    assert errors[0]["id"] == f"n{cap}"
