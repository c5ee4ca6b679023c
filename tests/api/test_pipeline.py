"""One request pipeline: CORS, HEAD and 405 on every route, the fast session routes included."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from session_runtime.api.app import create_app
from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed

ALLOWED = "http://127.0.0.1:5173"
STRANGER = "http://evil.example"


class SeenPaths:
    """A middleware added to the app after it is built: it must see every request."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seen: list[str]) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("pipeline")
    settings = Settings(
        database_path=folder / "sessions.db", heartbeat_seconds=0.3, cors_origins=(ALLOWED,)
    )
    app = create_app(settings)
    app.add_middleware(SeenPaths, seen=seen)
    with running_server(settings, app=app) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seed:
    return server.call(seed(server.service))


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def session_url(http: httpx.Client, seeded: Seed) -> str:
    created = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers=seeded.headers(seeded.owner),
    )
    assert created.status_code == 201, created.text
    return f"/v1/projects/{seeded.project_id}/sessions/{created.json()['sessionId']}"


def preflight(
    http: httpx.Client, url: str, origin: str, method: str, headers: str
) -> httpx.Response:
    return http.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_middleware_added_to_the_app_sees_the_fast_session_routes(
    http: httpx.Client, seeded: Seed, session_url: str, seen: list[str]
) -> None:
    seen.clear()
    headers = seeded.headers(seeded.owner)
    sessions_url = f"/v1/projects/{seeded.project_id}/sessions"
    assert http.post(sessions_url, json=seeded.session_body(), headers=headers).is_success
    assert http.get(session_url, headers=headers).status_code == 200
    assert http.patch(session_url, json={"currentStepIndex": 1}, headers=headers).is_success
    assert http.post(session_url + "/complete", headers=headers).is_success
    with http.stream("GET", session_url + "/events", headers=headers) as stream:
        assert stream.status_code == 200
    assert seen == [
        f"POST {sessions_url}",
        f"GET {session_url}",
        f"PATCH {session_url}",
        f"POST {session_url}/complete",
        f"GET {session_url}/events",
    ]


@pytest.mark.parametrize(
    ("suffix", "method"),
    [("", "PATCH"), ("", "GET"), ("/complete", "POST"), ("/events", "GET"), (None, "POST")],
)
def test_a_preflight_from_an_allowed_origin_is_answered_on_every_route(
    http: httpx.Client, seeded: Seed, session_url: str, suffix: str | None, method: str
) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions" if suffix is None else session_url + suffix
    requested = "authorization, content-type, if-match, idempotency-key, last-event-id"
    response = preflight(http, url, ALLOWED, method, requested)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert method in response.headers["access-control-allow-methods"].split(", ")
    allowed_headers = response.headers["access-control-allow-headers"].lower().split(", ")
    for header in requested.split(", "):
        assert header in allowed_headers
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_from_another_origin_is_refused_with_the_error_body(
    http: httpx.Client, session_url: str
) -> None:
    response = preflight(http, session_url, STRANGER, "PATCH", "authorization")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert "SESSION_RUNTIME_CORS_ORIGINS" in response.json()["error"]["message"]
    assert "access-control-allow-origin" not in response.headers


def test_answers_to_an_allowed_origin_expose_etag_and_retry_after(
    http: httpx.Client, seeded: Seed, session_url: str
) -> None:
    headers = {**seeded.headers(seeded.owner), "Origin": ALLOWED}
    response = http.get(session_url, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = response.headers["access-control-expose-headers"].split(", ")
    assert {"ETag", "Retry-After"} <= set(exposed)
    refused = http.get(session_url, headers={"Origin": ALLOWED})  # an error reaches the page too
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED


def test_a_stream_answers_an_allowed_origin(
    http: httpx.Client, seeded: Seed, session_url: str
) -> None:
    headers = {**seeded.headers(seeded.owner), "Origin": ALLOWED}
    with http.stream("GET", session_url + "/events", headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == ALLOWED


def test_another_origin_gets_no_cors_headers(
    http: httpx.Client, seeded: Seed, session_url: str
) -> None:
    response = http.get(session_url, headers={**seeded.headers(seeded.owner), "Origin": STRANGER})
    assert response.status_code == 200  # the server answers; the browser withholds it
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "suffix", "allow"),
    [
        ("DELETE", "", "GET, HEAD, PATCH"),
        ("PUT", "", "GET, HEAD, PATCH"),
        ("GET", "/complete", "POST"),
        ("POST", "/events", "GET, HEAD"),
    ],
)
def test_a_method_a_session_path_lacks_is_405_with_allow(
    http: httpx.Client, seeded: Seed, session_url: str, method: str, suffix: str, allow: str
) -> None:
    response = http.request(method, session_url + suffix, headers=seeded.headers(seeded.owner))
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    error = response.json()["error"]
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert error["details"] == {"method": method, "allowed": allow.split(", ")}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/projects/p/sessions", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
        ("PATCH", "/v1/projects/p/stats", "GET, HEAD"),
        ("OPTIONS", "/readyz", "GET, HEAD"),
    ],
)
def test_a_method_another_path_lacks_is_405_with_every_method_of_the_path(
    http: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_an_unknown_path_is_still_not_found(http: httpx.Client, session_url: str) -> None:
    for path in ("/v2/anything", session_url + "/teleport"):
        response = http.delete(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_head_answers_as_get_without_a_body(
    http: httpx.Client, seeded: Seed, session_url: str
) -> None:
    headers = seeded.headers(seeded.owner)
    got, head = http.get(session_url, headers=headers), http.head(session_url, headers=headers)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == str(len(got.content))
    for path in ("/healthz", "/", f"/v1/projects/{seeded.project_id}/sessions"):
        response = http.head(path, headers=headers)
        assert response.status_code == 200, path
        assert response.content == b""
    assert http.head(session_url, headers=seeded.headers(seeded.revoked)).status_code == 401


def test_head_on_a_stream_sends_its_headers_and_ends(
    http: httpx.Client, seeded: Seed, session_url: str
) -> None:
    response = http.head(session_url + "/events", headers=seeded.headers(seeded.owner), timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""


def test_head_where_there_is_no_get_is_405(
    http: httpx.Client, seeded: Seed, session_url: str
) -> None:
    response = http.head(session_url + "/complete", headers=seeded.headers(seeded.owner))
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("origin", "is_allowed"),
    [(None, True), (ALLOWED, True), ("same", True), (STRANGER, False)],
)
def test_a_browser_websocket_must_come_from_an_allowed_origin(
    server: RunningServer, origin: str | None, is_allowed: bool
) -> None:
    url = server.ws_url
    if origin == "same":
        origin = server.base_url
    extra: dict[str, Any] = {} if origin is None else {"origin": origin}
    if is_allowed:
        with connect(url, **extra) as ws:
            ws.send('{"type": "ping"}')
            assert ws.recv(timeout=5) == '{"type":"pong"}'
    else:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, **extra)
        assert refused.value.response.status_code == 403


def test_with_no_origins_configured_a_preflight_is_refused(tmp_path: Path) -> None:
    async def check() -> httpx.Response:
        app = create_app(Settings(database_path=tmp_path / "s.db"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.options(
                "/v1/projects/p/sessions/s",
                headers={"Origin": ALLOWED, "Access-Control-Request-Method": "PATCH"},
            )

    response = asyncio.run(check())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


def test_a_wildcard_origin_never_goes_with_credentials(tmp_path: Path) -> None:
    async def check() -> httpx.Response:
        app = create_app(Settings(database_path=tmp_path / "s.db", cors_origins=("*",)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.options(
                "/v1/projects/p/sessions/s",
                headers={
                    "Origin": STRANGER,
                    "Access-Control-Request-Method": "PATCH",
                    "Access-Control-Request-Headers": "authorization",
                },
            )

    response = asyncio.run(check())
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "value", ["http://a.example/path", "ftp://a.example", "a.example", "http://user@a.example"]
)
def test_a_setting_that_is_not_an_origin_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(cors_origins=value)  # type: ignore[arg-type]


def test_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SESSION_RUNTIME_CORS_ORIGINS", "http://127.0.0.1:5173, https://Kiosk.example/"
    )
    assert Settings().cors_origins == ("http://127.0.0.1:5173", "https://kiosk.example")
