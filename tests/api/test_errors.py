"""Every error code over HTTP, and one body shape for all of them on every route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ..support.server import RunningServer, Seed

ROUTES = [
    ("GET", "/v1/me"),
    ("GET", "/v1/projects"),
    ("GET", "/v1/projects/{p}/events"),
    ("GET", "/v1/projects/{p}/experiences"),
    ("POST", "/v1/projects/{p}/sessions"),
    ("GET", "/v1/projects/{p}/sessions"),
    ("GET", "/v1/projects/{p}/sessions/{s}"),
    ("PATCH", "/v1/projects/{p}/sessions/{s}"),
    ("POST", "/v1/projects/{p}/sessions/{s}/complete"),
    ("POST", "/v1/projects/{p}/sessions/{s}/abandon"),
    ("POST", "/v1/projects/{p}/sessions/{s}/fail"),
    ("GET", "/v1/projects/{p}/sessions/{s}/events"),
]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def session_id(http: httpx.Client, seeded: Seed) -> str:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers=seeded.headers(seeded.owner),
    )
    session_id: str = response.json()["sessionId"]
    return session_id


def routes(seeded: Seed, session_id: str) -> Iterator[tuple[str, str]]:
    for method, template in ROUTES:
        yield method, template.format(p=seeded.project_id, s=session_id)


def valid_body(seeded: Seed, method: str, url: str) -> dict[str, Any]:
    """A body the route would accept, so that only the caller decides the answer."""
    if method == "POST" and url.endswith("/sessions"):
        return seeded.session_body()
    if url.endswith("/fail"):
        return {"reason": "x"}
    return {}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic abc", "Bearer srt_not-a-real-token-at-all", "Bearer " + "x" * 600],
)
def test_every_route_refuses_missing_or_bad_tokens(
    http: httpx.Client, seeded: Seed, session_id: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, url in routes(seeded, session_id):
        response = http.request(method, url, headers=headers, json={})
        assert_error(response, 401, "UNAUTHENTICATED")


def test_a_revoked_token_is_refused(http: httpx.Client, seeded: Seed, session_id: str) -> None:
    for method, url in routes(seeded, session_id):
        response = http.request(method, url, headers=seeded.headers(seeded.revoked), json={})
        assert_error(response, 401, "UNAUTHENTICATED")


def test_another_projects_member_is_denied_everywhere(
    http: httpx.Client, seeded: Seed, session_id: str
) -> None:
    for method, url in routes(seeded, session_id):
        if url in ("/v1/me", "/v1/projects"):
            continue
        response = http.request(
            method,
            url,
            headers=seeded.headers(seeded.stranger),
            json=valid_body(seeded, method, url),
        )
        error = assert_error(response, 403, "PERMISSION_DENIED")
        assert session_id not in error["message"]


def test_a_viewer_reads_but_cannot_write(http: httpx.Client, seeded: Seed, session_id: str) -> None:
    headers = seeded.headers(seeded.viewer)
    assert http.get(f"/v1/projects/{seeded.project_id}/sessions/{session_id}", headers=headers)
    writes = [(m, u) for m, u in routes(seeded, session_id) if m in ("POST", "PATCH")]
    for method, url in writes:
        response = http.request(method, url, headers=headers, json=valid_body(seeded, method, url))
        assert_error(response, 403, "PERMISSION_DENIED")


def test_guest_rules(http: httpx.Client, seeded: Seed, session_id: str) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    preview = http.post(
        url, json=seeded.session_body(mode="preview"), headers=seeded.headers(seeded.guest)
    )
    assert_error(preview, 403, "PERMISSION_DENIED")
    draft = http.post(
        url, json=seeded.session_body(configSource="draft"), headers=seeded.headers(seeded.guest)
    )
    assert_error(draft, 403, "PERMISSION_DENIED")
    wrong_event = http.post(
        url,
        json=seeded.session_body(eventId=seeded.other_event_id),
        headers=seeded.headers(seeded.event_guest),
    )
    assert_error(wrong_event, 403, "PERMISSION_DENIED")
    for method, session_url in routes(seeded, session_id):
        if session_id not in session_url:
            continue
        response = http.request(
            method,
            session_url,
            headers=seeded.headers(seeded.guest),
            json=valid_body(seeded, method, session_url),
        )
        error = assert_error(response, 403, "PERMISSION_DENIED")
        assert "user:owner" not in str(error)


def test_not_found_names_the_resource(http: httpx.Client, seeded: Seed) -> None:
    headers = seeded.headers(seeded.owner)
    url = f"/v1/projects/{seeded.project_id}/sessions"
    cases = {
        "event": seeded.session_body(eventId="no-such-event"),
        "experience": seeded.session_body(experienceId="no-such-experience"),
    }
    for resource, body in cases.items():
        error = assert_error(http.post(url, json=body, headers=headers), 404, "NOT_FOUND")
        assert error["details"]["resource"] == resource
    foreign = seeded.session_body(eventId=seeded.other_event_in_other_project)
    error = assert_error(http.post(url, json=foreign, headers=headers), 404, "NOT_FOUND")
    assert error["details"]["resource"] == "event"
    for method, suffix in (("GET", ""), ("PATCH", ""), ("POST", "/complete"), ("GET", "/events")):
        response = http.request(method, f"{url}/missing{suffix}", headers=headers, json={})
        error = assert_error(response, 404, "NOT_FOUND")
        assert error["details"] == {"resource": "session", "id": "missing"}
    assert_error(http.get("/v1/nowhere", headers=headers), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"currentStepIndex": -1}, "currentStepIndex"),
        ({"currentStepIndex": 1.5}, "currentStepIndex"),
        ({"currentStepIndex": "2"}, "currentStepIndex"),
        ({"inputs": []}, "inputs"),
        ({"outputs": {"photo": {"mediaAssetId": "m"}}}, "outputs.photo.url"),
        ({"outputs": {"photo": {"mediaAssetId": "m", "url": "ftp://x/y"}}}, "outputs.photo.url"),
        ({"outputs": {"p": {"mediaAssetId": "m", "url": "https://x/y", "size": 3}}}, "outputs"),
        ({"unknown": True}, "unknown"),
        ({"sessionId": "another"}, "sessionId"),
    ],
)
def test_bad_progress_is_a_validation_error_and_writes_nothing(
    http: httpx.Client, seeded: Seed, session_id: str, body: dict[str, Any], path: str
) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = seeded.headers(seeded.owner)
    error = assert_error(http.patch(url, json=body, headers=headers), 422, "VALIDATION_ERROR")
    assert any(detail["path"].startswith(path) for detail in error["details"]), error
    assert http.get(url, headers=headers).json()["version"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        b'{"inputs": {"x": NaN}}',
        b'{"inputs": {"x": Infinity}}',
        b'{"inputs": ',
        b"[1, 2]",
        b'"text"',
        b'{"inputs": {"x": "\xff\xfe"}}',
    ],
)
def test_bodies_that_are_not_json_objects_are_refused(
    http: httpx.Client, seeded: Seed, session_id: str, raw: bytes
) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = {**seeded.headers(seeded.owner), "Content-Type": "application/json"}
    assert_error(http.patch(url, content=raw, headers=headers), 422, "VALIDATION_ERROR")
    assert http.get(url, headers=headers).json()["version"] == 1


def test_oversized_bodies_are_refused_before_being_read(
    http: httpx.Client, seeded: Seed, session_id: str, server: RunningServer
) -> None:
    limit = server.app.state.settings.max_body_bytes
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = seeded.headers(seeded.owner)
    big = {"inputs": {"blob": "x" * (limit + 10)}}
    error = assert_error(http.patch(url, json=big, headers=headers), 413, "RESOURCE_EXHAUSTED")
    assert error["details"] == {"limit": limit}

    def chunks() -> Iterator[bytes]:
        yield b'{"inputs": {"blob": "'
        for _ in range(limit // 1024 + 2):
            yield b"y" * 1024
        yield b'"}}'

    streamed = http.patch(url, content=chunks(), headers=headers)
    assert_error(streamed, 413, "RESOURCE_EXHAUSTED")
    assert http.get(url, headers=headers).json()["version"] == 1


def test_a_session_over_one_mebibyte_is_refused(seeded: Seed, server: RunningServer) -> None:
    # The server under test caps bodies at 64 KiB, so the stored-size limit is reached by
    # growing one session in steps below that cap.
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        headers = seeded.headers(seeded.owner)
        created = http.post(
            f"/v1/projects/{seeded.project_id}/sessions",
            json=seeded.session_body(),
            headers=headers,
        ).json()
        url = f"/v1/projects/{seeded.project_id}/sessions/{created['sessionId']}"
        chunk = "z" * 60_000
        last = None
        for index in range(30):
            last = http.patch(url, json={"inputs": {f"k{index}": chunk}}, headers=headers)
            if last.status_code != 200:
                break
        assert last is not None
        error = assert_error(last, 413, "RESOURCE_EXHAUSTED")
        assert error["details"]["limit"] == 1024 * 1024
        stored = http.get(url, headers=headers).json()
        assert stored["version"] == index + 1
        assert f"k{index}" not in stored["inputs"]


def test_query_parameters_are_validated(http: httpx.Client, seeded: Seed) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    headers = seeded.headers(seeded.owner)
    for params in ({"limit": 0}, {"limit": "many"}, {"status": "done"}, {"cursor": "%%%"}):
        assert_error(http.get(url, params=params, headers=headers), 422, "VALIDATION_ERROR")


def test_storage_outage_is_unavailable(seeded: Seed, tmp_path: Any) -> None:
    from session_runtime.settings import Settings

    from ..support.server import running_server, seed

    with running_server(Settings(database_path=tmp_path / "x.db")) as server:
        data = server.call(seed(server.service))
        with httpx.Client(base_url=server.base_url) as http:
            server.call(server.runtime.store.close())
            assert_error(http.get("/readyz"), 503, "UNAVAILABLE")
            response = http.post(
                f"/v1/projects/{data.project_id}/sessions",
                json=data.session_body(),
                headers=data.headers(data.owner),
            )
            assert_error(response, 503, "UNAVAILABLE")


def test_a_revocation_takes_effect_at_once_here_and_soon_from_elsewhere(
    http: httpx.Client, seeded: Seed, server: RunningServer
) -> None:
    from session_runtime import SYSTEM
    from session_runtime.runtime import SessionRuntime

    service = server.service
    record, token = server.call(
        service.create_member_token(SYSTEM, seeded.project_id, user="temp", role="viewer")
    )
    assert http.get("/v1/me", headers=seeded.headers(token)).status_code == 200
    server.call(service.revoke_token(SYSTEM, record.id))
    assert_error(http.get("/v1/me", headers=seeded.headers(token)), 401, "UNAUTHENTICATED")

    record, token = server.call(
        service.create_member_token(SYSTEM, seeded.project_id, user="temp2", role="viewer")
    )
    assert http.get("/v1/me", headers=seeded.headers(token)).status_code == 200

    async def revoke_elsewhere() -> None:
        # Another process on the same file, as `session-runtime tokens revoke` is.
        path = server.app.state.settings.database_path
        async with SessionRuntime.sqlite(path) as other:
            await other.service.revoke_token(SYSTEM, record.id)

    import asyncio

    asyncio.run(revoke_elsewhere())
    limit = server.app.state.settings.token_cache_seconds
    deadline = time.monotonic() + limit + 3
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = http.get("/v1/me", headers=seeded.headers(token)).status_code
        time.sleep(0.1)
    assert status == 401


def test_a_body_of_whitespace_is_not_json(http: httpx.Client, seeded: Seed) -> None:
    created = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers=seeded.headers(seeded.owner),
    ).json()
    url = f"/v1/projects/{seeded.project_id}/sessions/{created['sessionId']}/abandon"
    headers = {**seeded.headers(seeded.owner), "Content-Type": "application/json"}
    refused = http.post(url, content=b" \n", headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    assert http.get(url.removesuffix("/abandon"), headers=headers).json()["status"] == "active"
    assert http.post(url, content=b"", headers=headers).json()["status"] == "abandoned"
