"""The funnel and the export over a real server, and the sweeper running inside it."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from session_runtime import SYSTEM, SessionRuntime
from session_runtime.api import create_app
from session_runtime.domain.export import CSV_COLUMNS
from session_runtime.settings import Settings

from ..factories import ManualClock
from ..support.server import RunningServer, Seed, running_server, seed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("reports")
    with running_server(Settings(database_path=folder / "sessions.db")) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seed:
    return server.call(seed(server.service))


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def create(http: httpx.Client, seeded: Seed, token: str, **body: Any) -> dict[str, Any]:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(**body),
        headers=seeded.headers(token),
    )
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()["session"]
    return session


def post(http: httpx.Client, seeded: Seed, session: dict[str, Any], path: str = "") -> Any:
    response = http.request(
        "PATCH" if not path else "POST",
        f"/v1/projects/{seeded.project_id}/sessions/{session['id']}{path}",
        json={"/fail": {"reason": "camera"}, "/complete": {}}.get(path, {"currentStepIndex": 2}),
        headers=seeded.headers(seeded.owner),
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_funnel_over_http(http: httpx.Client, seeded: Seed) -> None:
    done = create(http, seeded, seeded.owner)
    post(http, seeded, done)
    post(http, seeded, done, "/complete")
    post(http, seeded, create(http, seeded, seeded.owner), "/fail")
    create(http, seeded, seeded.owner, mode="preview", configSource="draft")

    response = http.get(
        f"/v1/projects/{seeded.project_id}/stats",
        params={"experienceId": seeded.experience_id},
        headers=seeded.headers(seeded.viewer),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "guest"
    [funnel] = body["experiences"]
    assert funnel["counts"]["completed"] >= 1 and funnel["counts"]["error"] >= 1
    assert funnel["steps"][0]["reached"] == funnel["counts"]["total"]
    assert funnel["medianCompletionSeconds"] >= 0
    previews = http.get(
        f"/v1/projects/{seeded.project_id}/stats",
        params={"mode": "preview"},
        headers=seeded.headers(seeded.owner),
    ).json()
    assert previews["totals"]["total"] >= 1


@pytest.mark.parametrize(
    ("who", "params", "status", "code"),
    [
        ("guest", {}, 403, "PERMISSION_DENIED"),
        ("stranger", {}, 403, "PERMISSION_DENIED"),
        (None, {}, 401, "UNAUTHENTICATED"),
        ("owner", {"from": "yesterday"}, 422, "VALIDATION_ERROR"),
        ("owner", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422,
         "VALIDATION_ERROR"),
        ("owner", {"mode": "everything"}, 422, "VALIDATION_ERROR"),
    ],
)  # fmt: skip
def test_the_funnel_refuses(
    http: httpx.Client, seeded: Seed, who: str | None, params: dict[str, str], status: int,
    code: str,
) -> None:  # fmt: skip
    headers = seeded.headers(getattr(seeded, who)) if who else {}
    response = http.get(f"/v1/projects/{seeded.project_id}/stats", params=params, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def listing(http: httpx.Client, seeded: Seed, token: str, **filters: str) -> list[Any]:
    items: list[Any] = []
    params: dict[str, Any] = {"limit": 500, **filters}
    while True:
        page = http.get(
            f"/v1/projects/{seeded.project_id}/sessions",
            params=params,
            headers=seeded.headers(token),
        ).json()
        items.extend(page["items"])
        if page["nextCursor"] is None:
            return items
        params["cursor"] = page["nextCursor"]


def seed_many(server: RunningServer, seeded: Seed, count: int, **overrides: Any) -> None:
    body = {"projectId": seeded.project_id, **seeded.session_body(**overrides)}

    async def make() -> None:
        service = server.service
        for start in range(0, count, 200):
            await asyncio.gather(
                *(service.create_session(SYSTEM, body) for _ in range(min(200, count - start)))
            )

    server.call(make())


def test_export_jsonl_holds_every_session_of_the_listing(
    server: RunningServer, http: httpx.Client, seeded: Seed
) -> None:
    seed_many(server, seeded, 1100)
    response = http.get(
        f"/v1/projects/{seeded.project_id}/sessions:export",
        params={"mode": "guest"},
        headers=seeded.headers(seeded.viewer),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in response.headers["content-disposition"]
    exported = [json.loads(line) for line in response.text.splitlines()]
    assert exported == listing(http, seeded, seeded.viewer, mode="guest")
    assert len(exported) >= 1100


def test_export_csv_rows_are_the_sessions(http: httpx.Client, seeded: Seed) -> None:
    session = create(http, seeded, seeded.owner, eventId=seeded.other_event_id)
    response = http.get(
        f"/v1/projects/{seeded.project_id}/sessions:export",
        params={"format": "csv", "eventId": seeded.other_event_id},
        headers=seeded.headers(seeded.owner),
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    expected = listing(http, seeded, seeded.owner, eventId=seeded.other_event_id)
    assert [row["id"] for row in rows] == [item["id"] for item in expected]
    assert session["id"] in {row["id"] for row in rows}
    for row, item in zip(rows, expected, strict=True):
        assert json.loads(row["inputs"]) == item["inputs"]
        assert row["version"] == str(item["version"])


def test_a_guest_exports_only_its_own_sessions(http: httpx.Client, seeded: Seed) -> None:
    mine = create(http, seeded, seeded.other_guest)

    response = http.get(
        f"/v1/projects/{seeded.project_id}/sessions:export",
        headers=seeded.headers(seeded.other_guest),
    )

    assert [json.loads(line)["id"] for line in response.text.splitlines()] == [mine["id"]]


@pytest.mark.parametrize(
    ("who", "project", "params", "status"),
    [
        (None, "project_id", {}, 401),
        ("stranger", "project_id", {}, 403),
        ("owner", "project_id", {"format": "xml"}, 422),
        ("owner", "project_id", {"status": "sleeping"}, 422),
    ],
)
def test_export_refusals_come_before_any_row(
    http: httpx.Client,
    seeded: Seed,
    who: str | None,
    project: str,
    params: dict[str, str],
    status: int,
) -> None:
    headers = seeded.headers(getattr(seeded, who)) if who else {}
    response = http.get(
        f"/v1/projects/{getattr(seeded, project)}/sessions:export", params=params, headers=headers
    )
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "details"}


def export_peak_bytes(server: RunningServer, seeded: Seed, token: str) -> tuple[int, int]:
    """(rows, peak bytes traced) of one export read as a stream: server and client share this
    process, so the peak counts both."""
    gc.collect()
    tracemalloc.start()
    try:
        rows = 0
        with (
            httpx.Client(base_url=server.base_url, timeout=60) as client,
            client.stream(
                "GET",
                f"/v1/projects/{seeded.project_id}/sessions:export",
                headers=seeded.headers(token),
            ) as response,
        ):
            assert response.status_code == 200
            for line in response.iter_lines():
                rows += bool(line)
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_stays_flat_as_sessions_grow(tmp_path: Path) -> None:
    settings = Settings(database_path=tmp_path / "export.db")
    with running_server(settings) as server:
        seeded = server.call(seed(server.service))
        seed_many(server, seeded, 2000)
        small_rows, small_peak = export_peak_bytes(server, seeded, seeded.owner)
        seed_many(server, seeded, 6000)
        large_rows, large_peak = export_peak_bytes(server, seeded, seeded.owner)

    assert (small_rows, large_rows) == (2000, 8000)
    # Four times the sessions, about the same memory: one page at a time, never the whole.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_the_server_sweeps_stale_sessions_and_tells_subscribers(tmp_path: Path) -> None:
    clock = ManualClock()
    settings = Settings(
        database_path=tmp_path / "sweep.db",
        stale_after_seconds=30 * 60,
        sweep_interval_seconds=0.05,
    )
    runtime = SessionRuntime.sqlite(settings.database_path, clock=clock)
    with running_server(settings, app=create_app(settings, runtime)) as server:
        seeded = server.call(seed(server.service))
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            session = create(http, seeded, seeded.guest)
            url = f"/v1/projects/{seeded.project_id}/sessions/{session['id']}"
            with http.stream("GET", url + "/events", headers=seeded.headers(seeded.guest)) as sse:
                lines = sse.iter_lines()
                first = next(line for line in lines if line.startswith("data:"))
                assert json.loads(first.removeprefix("data:"))["status"] == "active"
                clock.advance(timedelta(minutes=31))
                update = next(line for line in lines if line.startswith("data:"))
            swept = json.loads(update.removeprefix("data:"))
            assert swept["status"] == "abandoned"
            assert swept["endReason"] == "no update for 30 minutes"
            assert swept["version"] == 2
            assert http.get(url, headers=seeded.headers(seeded.guest)).json() == swept
            assert server.app.state.sweeper.idle_after is not None


def test_the_sweeper_can_be_turned_off(tmp_path: Path) -> None:
    clock = ManualClock()
    settings = Settings(
        database_path=tmp_path / "off.db", stale_after_seconds=0, sweep_interval_seconds=0.05
    )
    runtime = SessionRuntime.sqlite(settings.database_path, clock=clock)
    with running_server(settings, app=create_app(settings, runtime)) as server:
        seeded = server.call(seed(server.service))
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            session = create(http, seeded, seeded.guest)
            clock.advance(timedelta(days=1))
            time.sleep(0.2)
            url = f"/v1/projects/{seeded.project_id}/sessions/{session['id']}"
            assert http.get(url, headers=seeded.headers(seeded.guest)).json()["status"] == "active"
        assert server.app.state.sweeper.idle_after is None
