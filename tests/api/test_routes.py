"""Every REST route over a real server: happy paths, ETag and If-Match, paging."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from ..support.server import RunningServer, Seed


def create(http: httpx.Client, seeded: Seed, token: str | None = None, **body: Any) -> Any:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(**body),
        headers=seeded.headers(token or seeded.owner),
    )
    assert response.status_code == 201, response.text
    return response


def session_url(seeded: Seed, session_id: str, suffix: str = "") -> str:
    return f"/v1/projects/{seeded.project_id}/sessions/{session_id}{suffix}"


def test_create_returns_the_new_session_with_etag_and_location(
    http: httpx.Client, seeded: Seed
) -> None:
    response = create(http, seeded, mode="preview", configSource="draft")
    body = response.json()
    session = body["session"]
    assert body["sessionId"] == session["id"]
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == session_url(seeded, session["id"])
    assert session["status"] == "active"
    assert session["currentStepIndex"] == 0
    assert session["version"] == 1
    assert session["createdAt"] == session["updatedAt"]
    assert session["createdAt"].endswith("Z")
    assert session["completedAt"] is None
    assert session["createdBy"] == "user:owner"
    datetime.fromisoformat(session["createdAt"])


def test_get_returns_the_session_and_its_version_as_etag(http: httpx.Client, seeded: Seed) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    response = http.get(session_url(seeded, session_id), headers=seeded.headers(seeded.viewer))
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["id"] == session_id


def test_patch_merges_and_bumps_the_version(http: httpx.Client, seeded: Seed) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    url = session_url(seeded, session_id)
    headers = seeded.headers(seeded.editor)
    first = http.patch(
        url,
        json={"currentStepIndex": 1, "inputs": {"profile": {"name": "Ada", "tags": [1, 2]}}},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    second = http.patch(
        url,
        json={
            "currentStepIndex": 2,
            "inputs": {"profile": {"age": 36, "tags": [3]}},
            "outputs": {"photo": {"mediaAssetId": "m1", "url": "https://cdn.example.com/1.jpg"}},
        },
        headers=headers,
    )
    session = second.json()
    assert second.headers["etag"] == '"3"'
    assert session["currentStepIndex"] == 2
    assert session["inputs"] == {"profile": {"name": "Ada", "age": 36, "tags": [3]}}
    assert session["outputs"]["photo"]["mediaAssetId"] == "m1"
    assert session["updatedAt"] > session["createdAt"]


def test_if_match_guards_a_write(http: httpx.Client, seeded: Seed) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    url = session_url(seeded, session_id)
    headers = seeded.headers(seeded.owner)
    ok = http.patch(url, json={"currentStepIndex": 1}, headers={**headers, "If-Match": '"1"'})
    assert ok.status_code == 200
    stale = http.patch(url, json={"currentStepIndex": 5}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert stale.json()["error"]["details"] == {"version": 2, "expected": 1}
    garbage = http.patch(url, json={}, headers={**headers, "If-Match": "yesterday"})
    assert garbage.status_code == 409
    weak = http.patch(url, json={"currentStepIndex": 3}, headers={**headers, "If-Match": 'W/"2"'})
    assert weak.status_code == 200
    stored = http.get(url, headers=headers).json()
    assert (stored["currentStepIndex"], stored["version"]) == (3, 3)


def test_complete_abandon_and_fail_are_final_and_retry_safe(
    http: httpx.Client, seeded: Seed
) -> None:
    headers = seeded.headers(seeded.owner)
    ids = [create(http, seeded).json()["sessionId"] for _ in range(3)]
    completed = http.post(session_url(seeded, ids[0], "/complete"), headers=headers).json()
    assert completed["status"] == "completed"
    assert completed["completedAt"] == completed["updatedAt"]
    again = http.post(session_url(seeded, ids[0], "/complete"), headers=headers)
    assert again.status_code == 200
    assert again.json()["version"] == completed["version"]

    abandoned = http.post(
        session_url(seeded, ids[1], "/abandon"), json={"reason": "walked away"}, headers=headers
    ).json()
    assert (abandoned["status"], abandoned["endReason"]) == ("abandoned", "walked away")
    assert abandoned["completedAt"] is None

    failed = http.post(
        session_url(seeded, ids[2], "/fail"), json={"reason": "model timeout"}, headers=headers
    ).json()
    assert (failed["status"], failed["endReason"]) == ("error", "model timeout")

    refused = http.post(session_url(seeded, ids[0], "/abandon"), headers=headers)
    assert refused.status_code == 409
    late = http.patch(session_url(seeded, ids[1]), json={"currentStepIndex": 9}, headers=headers)
    assert late.status_code == 409
    assert late.json()["error"]["details"]["status"] == "abandoned"


def test_list_filters_and_pages_newest_first(http: httpx.Client, seeded: Seed) -> None:
    headers = seeded.headers(seeded.owner)
    marker = {"eventId": seeded.other_event_id}
    created = [create(http, seeded, **marker).json()["sessionId"] for _ in range(5)]
    http.post(session_url(seeded, created[0], "/complete"), headers=headers)
    url = f"/v1/projects/{seeded.project_id}/sessions"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"eventId": seeded.other_event_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = http.get(url, params=params, headers=headers).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    completed = http.get(
        url, params={"eventId": seeded.other_event_id, "status": "completed"}, headers=headers
    ).json()
    assert [item["id"] for item in completed["items"]] == [created[0]]


def test_a_guest_lists_only_its_own_sessions(http: httpx.Client, seeded: Seed) -> None:
    mine = create(http, seeded, token=seeded.guest).json()["sessionId"]
    create(http, seeded, token=seeded.other_guest)
    listed = http.get(
        f"/v1/projects/{seeded.project_id}/sessions", headers=seeded.headers(seeded.guest)
    ).json()
    ids = {item["id"] for item in listed["items"]}
    assert mine in ids
    assert all(item["createdBy"] == listed["items"][0]["createdBy"] for item in listed["items"])


def test_catalog_routes_show_the_tokens_project(http: httpx.Client, seeded: Seed) -> None:
    headers = seeded.headers(seeded.viewer)
    me = http.get("/v1/me", headers=headers).json()
    assert me == {
        "kind": "member",
        "projectId": seeded.project_id,
        "user": "viewer",
        "role": "viewer",
        "eventId": None,
    }
    projects = http.get("/v1/projects", headers=headers).json()["items"]
    assert [p["id"] for p in projects] == [seeded.project_id]
    events = http.get(f"/v1/projects/{seeded.project_id}/events", headers=headers).json()
    assert {e["id"] for e in events["items"]} == {seeded.event_id, seeded.other_event_id}
    experiences = http.get(f"/v1/projects/{seeded.project_id}/experiences", headers=headers).json()
    assert [x["id"] for x in experiences["items"]] == [seeded.experience_id]
    guest = http.get("/v1/me", headers=seeded.headers(seeded.event_guest)).json()
    assert (guest["kind"], guest["eventId"]) == ("guest", seeded.event_id)


def test_health_metrics_and_openapi(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    assert http.get("/healthz").json()["status"] == "ok"
    assert http.get("/readyz").json()["status"] == "ready"
    create(http, seeded)
    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'session_runtime_operations_total{action="create",outcome="ok"}' in text
    assert "session_runtime_operation_seconds_bucket" in text
    assert "session_runtime_subscriptions_open" in text

    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    sessions = "/v1/projects/{project_id}/sessions"
    one = sessions + "/{session_id}"
    assert set(paths[sessions]) == {"get", "post"}
    assert set(paths[one]) == {"get", "patch"}
    for action in ("complete", "abandon", "fail", "events"):
        assert f"{one}/{action}" in paths
    schemas = spec["components"]["schemas"]
    for name in ("UpdateSessionProgressBody", "CreateSessionBody", "ErrorBody", "Session"):
        assert name in schemas
    patch = paths[one]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "UpdateSessionProgressBody"
    )
    assert {"401", "403", "404", "409", "413", "422", "503"} <= set(patch["responses"])
    assert http.get("/docs").status_code == 200


def test_query_strings_name_each_bad_value_and_ignore_unknown_names(
    http: httpx.Client, seeded: Seed
) -> None:
    base = f"/v1/projects/{seeded.project_id}"
    headers = seeded.headers(seeded.owner)
    refusals = {
        "/sessions?limit=0&mode=x&status=y": {"query.limit", "query.mode", "query.status"},
        "/sessions?limit=501": {"query.limit"},
        "/sessions:export?format=xml": {"query.format"},
        "/stats?mode=everything": {"query.mode"},
    }
    for query, paths in refusals.items():
        response = http.get(base + query, headers=headers)
        assert response.status_code == 422, (query, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert {detail["path"] for detail in error["details"]} == paths
    for route in ("/sessions", "/sessions:export", "/stats"):
        response = http.get(f"{base}{route}?unknown=1&event_id=x&limit=500", headers=headers)
        assert response.status_code == 200, (route, response.text)


def test_openapi_lists_every_query_parameter_of_the_session_routes(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]

    def query_parameters(path: str) -> dict[str, Any]:
        parameters = paths[f"/v1/projects/{{project_id}}{path}"]["get"]["parameters"]
        assert {"in": "path", "name": "project_id"}.items() <= parameters[0].items()
        return {p["name"]: p for p in parameters if p["in"] == "query"}

    listing = query_parameters("/sessions")
    assert set(listing) == {"eventId", "experienceId", "status", "mode", "limit", "cursor"}
    assert listing["limit"]["schema"] == {
        "default": 50, "maximum": 500, "minimum": 1, "title": "Limit", "type": "integer"
    }  # fmt: skip
    export = query_parameters("/sessions:export")
    assert set(export) == {"eventId", "experienceId", "status", "mode", "format"}
    assert export["format"]["schema"]["default"] == "jsonl"
    stats = query_parameters("/stats")
    assert set(stats) == {"eventId", "experienceId", "mode", "from", "to"}
    assert stats["mode"]["schema"]["default"] == "guest"
    assert stats["from"]["description"] == "ISO 8601; sessions created at or after."
    assert not any(p["required"] for p in [*listing.values(), *export.values(), *stats.values()])
