"""Malformed input to the live streams, over a real server on 127.0.0.1.

- SSE: an unreadable ``Last-Event-ID`` counts as none (the current snapshot comes at once); a
  readable one is honoured; a wrong method is refused with the error body.
- WebSocket: every malformed message (bad JSON, binary garbage, unknown types, bad fields,
  oversized, too deep, NaN, lone surrogates, invalid UTF-8, a foreign or unknown session, a
  taken id) gets one error naming only what it concerns, and the subscriptions already open on
  the same connection keep receiving every change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed
from ..support.sse import events

WS_MAX_MESSAGE_BYTES = 4096


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("streams")
    settings = Settings(
        database_path=folder / "sessions.db",
        heartbeat_seconds=0.2,
        ws_max_message_bytes=WS_MAX_MESSAGE_BYTES,
        rate_limit_per_second=0,  # the limits have tests of their own
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


def _new_session(
    http: httpx.Client, seeded: Seed, *, project_id: str = "", token: str = "", **body: Any
) -> str:
    project_id = project_id or seeded.project_id
    response = http.post(
        f"/v1/projects/{project_id}/sessions",
        json=seeded.session_body(**body),
        headers=seeded.headers(token or seeded.owner),
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


def _stream(http: httpx.Client, url: str, headers: dict[str, Any]) -> tuple[int, list[Any]]:
    """The status and every event of a stream that ends by itself (a final session)."""
    with http.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [response.json()]
        return 200, [event for event in events(response) if event.event != "comment"]


# -- SSE -------------------------------------------------------------------------------------

UNREADABLE_LAST_EVENT_IDS: list[bytes] = [
    b"abc", b"-1", b"+1", b"1.0", b"0x1", b"1e1", b"", b"1 2", b"\xb2", "٣".encode(),
    b"9" * 19, b"1;2", b"\xff\xfe", b"null", b"[1]",
]  # fmt: skip


def test_unreadable_last_event_ids_count_as_none(http: httpx.Client, seeded: Seed) -> None:
    session_id = _new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = seeded.headers(seeded.owner)
    assert http.post(f"{url}/complete", headers=headers).status_code == 200
    for value in UNREADABLE_LAST_EVENT_IDS:
        status, received = _stream(http, f"{url}/events", {**headers, "Last-Event-ID": value})
        assert status == 200, (value, received)
        assert [(event.event, event.id) for event in received] == [
            ("snapshot", "2"),
            ("end", None),
        ], value
        assert json.loads(received[0].data)["id"] == session_id
    # A readable one is honoured: nothing newer than version 2, so only the end.
    for value, expected in ((b"1", ["snapshot", "end"]), (b"2", ["end"]), (b"999", ["end"])):
        status, received = _stream(http, f"{url}/events", {**headers, "Last-Event-ID": value})
        assert (status, [event.event for event in received]) == (200, expected), value


def test_an_event_stream_refuses_other_methods_with_the_error_body(
    http: httpx.Client, seeded: Seed
) -> None:
    session_id = _new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = http.request(method, url, headers=seeded.headers(seeded.owner))
        assert response.status_code == 405, (method, response.text)
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert response.headers["allow"] == "GET, HEAD"


# -- WebSocket -------------------------------------------------------------------------------


def _receive(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def _subscribe(subscription_id: str, project_id: str, session_id: str | None = None) -> str:
    message = {"type": "subscribe", "id": subscription_id, "projectId": project_id}
    if session_id is not None:
        message["sessionId"] = session_id
    return json.dumps(message)


def _malformed(seeded: Seed, foreign_session: str, own_session: str) -> list[tuple[Any, Any, str]]:
    """(message, the id its error must name, the code): every one a mistake."""
    project = seeded.project_id
    too_deep = "[" * 2000 + "]" * 2000
    return [
        ("{not json", None, "VALIDATION_ERROR"),
        (b"\x00\xff\xfe\x80", None, "VALIDATION_ERROR"),  # a binary frame of garbage
        (b'{"type": "ping", "x": "\xff"}', None, "VALIDATION_ERROR"),  # invalid UTF-8
        ('{"type": "ping", "x": "\\ud800"}', None, "VALIDATION_ERROR"),  # a lone surrogate
        ('{"type": "ping", "n": NaN}', None, "VALIDATION_ERROR"),
        ('{"type": "ping", "n": Infinity}', None, "VALIDATION_ERROR"),
        (too_deep, None, "VALIDATION_ERROR"),
        ("[1, 2]", None, "VALIDATION_ERROR"),
        ('"subscribe"', None, "VALIDATION_ERROR"),
        ("x" * (WS_MAX_MESSAGE_BYTES + 1), None, "RESOURCE_EXHAUSTED"),
        ('{"type": "bogus", "id": "u1"}', "u1", "VALIDATION_ERROR"),
        ('{"id": "u2"}', "u2", "VALIDATION_ERROR"),
        ('{"type": ["subscribe"], "id": "u3"}', "u3", "VALIDATION_ERROR"),
        (json.dumps({"type": "subscribe", "id": 7, "projectId": project}), None,
         "VALIDATION_ERROR"),
        (json.dumps({"type": "subscribe", "id": "", "projectId": project}), "",
         "VALIDATION_ERROR"),
        (json.dumps({"type": "subscribe", "id": "x" * 129, "projectId": project}), "x" * 129,
         "VALIDATION_ERROR"),
        (json.dumps({"type": "subscribe", "id": "p1", "projectId": 5}), "p1",
         "VALIDATION_ERROR"),
        (json.dumps({"type": "subscribe", "id": "p2", "projectId": project, "sessionId": {}}),
         "p2", "VALIDATION_ERROR"),
        (json.dumps({"type": "subscribe", "id": "p3", "projectId": project, "extra": 1}), "p3",
         "VALIDATION_ERROR"),
        (_subscribe("good", project, own_session), "good", "VALIDATION_ERROR"),  # id taken
        (_subscribe("f1", seeded.other_project_id, foreign_session), "f1",
         "PERMISSION_DENIED"),
        (_subscribe("f2", seeded.other_project_id), "f2", "PERMISSION_DENIED"),
        (_subscribe("n1", project, "no-such-session"), "n1", "NOT_FOUND"),
        ('{"type": "unsubscribe", "id": "never"}', "never", "VALIDATION_ERROR"),
        ('{"type": "unsubscribe"}', None, "VALIDATION_ERROR"),
    ]  # fmt: skip


def test_malformed_messages_refuse_only_themselves(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    own = _new_session(http, seeded)
    foreign = _new_session(
        http,
        seeded,
        project_id=seeded.other_project_id,
        token=seeded.stranger,
        eventId=seeded.other_event_in_other_project,
        experienceId=seeded.other_experience_in_other_project,
    )
    headers = seeded.headers(seeded.owner)
    url = f"/v1/projects/{seeded.project_id}/sessions/{own}"
    started = time.monotonic()
    with connect(server.ws_url, additional_headers=headers, open_timeout=5) as ws:
        ws.send(_subscribe("good", seeded.project_id, own))
        assert _receive(ws)["session"]["version"] == 1
        ws.send(_subscribe("all", seeded.project_id))
        assert _receive(ws) == {"type": "subscribed", "id": "all"}
        malformed = _malformed(seeded, foreign, own)
        version = 1
        for index, (message, expected_id, code) in enumerate(malformed):
            ws.send(message)
            error = _receive(ws)
            assert error["type"] == "error", (message, error)
            assert (error["id"], error["error"]["code"]) == (expected_id, code), (message, error)
            assert set(error["error"]) == {"code", "message", "details"}
            assert error["error"]["message"]
            assert foreign not in json.dumps(error)
            if index % 5 == 4:
                # Every few mistakes, a change: both open subscriptions still get it.
                changed = http.patch(url, json={"inputs": {f"k{index}": index}}, headers=headers)
                assert changed.status_code == 200, changed.text
                version += 1
                got = {}
                while len(got) < 2:
                    update = _receive(ws)
                    got[update["id"]] = (update["type"], update["session"]["version"])
                assert got == {"good": ("snapshot", version), "all": ("change", version)}
        ws.send(b'{"type": "ping"}')  # a binary frame that is valid JSON is read as text
        assert _receive(ws) == {"type": "pong"}
        ws.send('{"type": "unsubscribe", "id": "good"}')
        assert _receive(ws) == {"type": "unsubscribed", "id": "good"}
    print(f"{len(malformed)} malformed messages, {version - 1} changes, "
          f"in {time.monotonic() - started:.2f} s")  # fmt: skip
