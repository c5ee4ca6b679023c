"""Server-sent events over a real server: snapshot first, changes, end, resume, heartbeat."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from ..support.server import RunningServer, Seed
from ..support.sse import Event, events
from ..support.waiting import wait_until


def new_session(http: httpx.Client, seeded: Seed, token: str | None = None) -> str:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers=seeded.headers(token or seeded.owner),
    )
    session_id: str = response.json()["sessionId"]
    return session_id


def snapshots_until_end(stream: httpx.Response) -> list[Event]:
    return until_end(events(stream))


def until_end(reader: Iterator[Event]) -> list[Event]:
    seen = []
    for event in reader:
        if event.event == "comment":
            continue
        seen.append(event)
        if event.event == "end":
            break
    return seen


def test_snapshot_first_then_each_change_then_end(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    session_id = new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    with http.stream("GET", url, headers=seeded.headers(seeded.viewer)) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in stream.headers
        reader = events(stream)
        first = next(event for event in reader if event.event != "comment")
        # Written once the first snapshot is read: each change comes after it.
        session_url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
        with httpx.Client(base_url=server.base_url, headers=seeded.headers(seeded.owner)) as writer:
            writer.patch(session_url, json={"currentStepIndex": 1})
            writer.post(session_url + "/complete")
        seen = [first, *until_end(reader)]
    snapshots = [e for e in seen if e.event == "snapshot"]
    versions = [int(e.id or 0) for e in snapshots]
    assert versions[0] == 1
    assert versions == sorted(versions) and versions[-1] == 3
    for event in snapshots:
        assert json.loads(event.data)["version"] == int(event.id or 0)
    assert json.loads(snapshots[-1].data)["status"] == "completed"
    assert seen[-1].event == "end"
    assert json.loads(seen[-1].data) == {"status": "completed", "version": 3}


def test_last_event_id_resumes_without_repeating(http: httpx.Client, seeded: Seed) -> None:
    session_id = new_session(http, seeded)
    base = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = seeded.headers(seeded.owner)
    http.patch(base, json={"currentStepIndex": 1}, headers=headers)
    http.patch(base, json={"currentStepIndex": 2}, headers=headers)
    http.post(base + "/complete", headers=headers)

    with http.stream("GET", base + "/events", headers={**headers, "Last-Event-ID": "2"}) as s:
        seen = snapshots_until_end(s)
    assert [(e.event, e.id) for e in seen] == [("snapshot", "4"), ("end", None)]

    with http.stream("GET", base + "/events", headers={**headers, "Last-Event-ID": "4"}) as s:
        seen = snapshots_until_end(s)
    assert [e.event for e in seen] == ["end"]


def test_a_quiet_stream_sends_heartbeats(http: httpx.Client, seeded: Seed) -> None:
    session_id = new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    started = time.monotonic()
    with http.stream("GET", url, headers=seeded.headers(seeded.owner)) as stream:
        kinds = []
        for event in events(stream):
            kinds.append(event.event)
            if kinds.count("comment") == 2:
                break
    assert kinds[0] == "snapshot"
    assert kinds.count("comment") == 2
    assert time.monotonic() - started < 5


def test_a_slow_reader_gets_the_latest_snapshot(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    session_id = new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    with http.stream("GET", url + "/events", headers=seeded.headers(seeded.owner)) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("id: 1")
        with httpx.Client(base_url=server.base_url) as writer:
            for step in range(1, 51):
                writer.patch(
                    url, json={"currentStepIndex": step}, headers=seeded.headers(seeded.owner)
                )
            writer.post(url + "/complete", headers=seeded.headers(seeded.owner))
        rest = []
        for line in lines:
            rest.append(line)
            if line.startswith("event: end"):
                break
    versions = [int(line[4:]) for line in rest if line.startswith("id: ")]
    assert versions[-1] == 52
    assert versions == sorted(set(versions))


def test_closing_the_stream_frees_the_subscription(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    session_id = new_session(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    feed = server.runtime.feed
    with http.stream("GET", url, headers=seeded.headers(seeded.owner)) as stream:
        # Keep the reader referenced: a discarded generator would close the stream.
        reader = events(stream)
        next(reader)
        assert feed.subscribers_of(seeded.project_id, session_id) == 1
    # The server notices the closed stream on its own loop.
    wait_until(lambda: feed.subscribers_of(seeded.project_id, session_id) == 0, timeout=3)


def test_a_guest_cannot_follow_another_guests_session(http: httpx.Client, seeded: Seed) -> None:
    session_id = new_session(http, seeded, token=seeded.guest)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    refused = http.get(url, headers=seeded.headers(seeded.other_guest))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
    with http.stream("GET", url, headers=seeded.headers(seeded.guest)) as stream:
        first = next(events(stream))
    assert first.event == "snapshot" and first.id == "1"
