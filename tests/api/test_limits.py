"""Per-token limits and size caps over a real server on 127.0.0.1.

Two servers: ``limited`` refills each token's bucket at 2 requests/s with a burst of 6 (so a
token is over its rate after a handful of requests, and back within a second); ``capped`` has
no rate limit, at most 3 open subscriptions per token, and small size caps. Every test makes the
tokens it uses, so no test spends another's budget.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from session_runtime import SYSTEM
from session_runtime.api.limits import Limits, RateLimiter, SubscriptionCounter
from session_runtime.domain.auth import Member, Role
from session_runtime.domain.errors import ResourceExhaustedError
from session_runtime.settings import Settings

from ..support.server import RunningServer, running_server

BURST = 6


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = Settings(
        database_path=tmp_path_factory.mktemp("limited") / "sessions.db",
        rate_limit_per_second=2.0,
        rate_limit_burst=BURST,
        max_subscriptions_per_token=0,
        heartbeat_seconds=0.5,
    )
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = Settings(
        database_path=tmp_path_factory.mktemp("capped") / "sessions.db",
        rate_limit_per_second=0,
        max_subscriptions_per_token=3,
        max_body_bytes=4096,
        ws_max_message_bytes=1024,
        heartbeat_seconds=0.5,
    )
    with running_server(settings) as running:
        yield running


@dataclass(frozen=True)
class Tenant:
    """A project with an event and an experience, on one server."""

    server: RunningServer
    project_id: str
    event_id: str
    experience_id: str

    def token(self) -> tuple[str, str]:
        """A fresh owner token: (its record id, the secret)."""
        record, secret = self.server.call(
            self.server.service.create_member_token(
                SYSTEM, self.project_id, user="owner", role="owner"
            )
        )
        return record.id, secret

    def new_session(self) -> str:
        """A session created through the service, costing no token any of its rate."""
        created = self.server.call(
            self.server.service.create_session(
                SYSTEM,
                {
                    "projectId": self.project_id,
                    "eventId": self.event_id,
                    "experienceId": self.experience_id,
                    "mode": "guest",
                    "configSource": "published",
                },
            )
        )
        return created.session_id

    def stored(self, session_id: str) -> Any:
        return self.server.call(
            self.server.service.get_session(SYSTEM, self.project_id, session_id)
        )

    def session_count(self) -> int:
        page = self.server.call(
            self.server.service.list_sessions(SYSTEM, self.project_id, {"limit": 500})
        )
        return len(page.items)

    def url(self, session_id: str | None = None, suffix: str = "") -> str:
        base = f"{self.server.base_url}/v1/projects/{self.project_id}/sessions"
        return base if session_id is None else f"{base}/{session_id}{suffix}"

    def body(self) -> dict[str, str]:
        return {
            "eventId": self.event_id,
            "experienceId": self.experience_id,
            "mode": "guest",
            "configSource": "published",
        }


def make_tenant(server: RunningServer) -> Tenant:
    service = server.service
    project = server.call(service.create_project(SYSTEM, {"name": "Limits"}))
    event = server.call(service.create_event(SYSTEM, {"projectId": project.id, "name": "E"}))
    experience = server.call(
        service.create_experience(SYSTEM, {"projectId": project.id, "name": "X"})
    )
    return Tenant(server, project.id, event.id, experience.id)


@pytest.fixture(scope="module")
def limited_tenant(limited: RunningServer) -> Tenant:
    return make_tenant(limited)


@pytest.fixture(scope="module")
def capped_tenant(capped: RunningServer) -> Tenant:
    return make_tenant(capped)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def retry_after(response: httpx.Response) -> int:
    value = response.headers["retry-after"]
    assert value.isdigit() and int(value) >= 1, value
    return int(value)


@contextmanager
def ws(server: RunningServer, token: str) -> Iterator[ClientConnection]:
    with connect(server.ws_url, additional_headers=auth(token), open_timeout=5) as socket_:
        yield socket_


def receive(connection: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(connection.recv(timeout=timeout))
    return message


def subscribe(connection: ClientConnection, tenant: Tenant, sub_id: str, session_id: str) -> None:
    connection.send(
        json.dumps(
            {
                "type": "subscribe",
                "id": sub_id,
                "projectId": tenant.project_id,
                "sessionId": session_id,
            }
        )
    )


def exhaust(http: httpx.Client, url: str, token: str) -> tuple[int, httpx.Response]:
    """PATCH until refused: how many got through, and the refusal."""
    for sent in range(BURST + 20):
        response = http.patch(url, json={"inputs": {f"k{sent}": sent}}, headers=auth(token))
        if response.status_code != 200:
            return sent, response
    raise AssertionError("never rate limited")


# -- the rate, over HTTP ------------------------------------------------------------------


def test_a_token_over_its_rate_gets_429_and_writes_nothing(limited_tenant: Tenant) -> None:
    tenant = limited_tenant
    record_id, token = tenant.token()
    _, other = tenant.token()
    session_id = tenant.new_session()
    url = tenant.url(session_id)
    with httpx.Client(timeout=10) as http:
        accepted, refused = exhaust(http, url, token)
        assert accepted >= BURST
        error = assert_error(refused, 429, "RESOURCE_EXHAUSTED")
        wait = retry_after(refused)
        assert error["details"]["retryAfter"] == wait
        stored = tenant.stored(session_id)
        assert stored.version == 1 + accepted
        assert f"k{accepted}" not in stored.inputs

        # Every route taking the token refuses it, and the one creating writes nothing.
        before = tenant.session_count()
        create = http.post(tenant.url(), json=tenant.body(), headers=auth(token))
        assert_error(create, 429, "RESOURCE_EXHAUSTED")
        assert retry_after(create) >= 1
        assert tenant.session_count() == before
        events = http.get(tenant.url(session_id, "/events"), headers=auth(token))
        assert_error(events, 429, "RESOURCE_EXHAUSTED")
        assert retry_after(events) >= 1

        # Another token of the same project is not affected.
        assert (
            http.patch(url, json={"inputs": {"other": 1}}, headers=auth(other)).status_code == 200
        )

        # Told when to come back, the token gets through then.
        time.sleep(wait)
        again = http.patch(url, json={"inputs": {"back": True}}, headers=auth(token))
        assert again.status_code == 200, again.text
        assert again.json()["inputs"]["back"] is True

    limiter = tenant.server.app.state.limits.rate
    assert record_id in limiter and token not in limiter


def test_unauthenticated_requests_are_refused_401_not_counted(limited_tenant: Tenant) -> None:
    session_id = limited_tenant.new_session()
    with httpx.Client(timeout=10) as http:
        for _ in range(BURST * 2):
            response = http.get(limited_tenant.url(session_id), headers=auth("srt_nothing"))
            assert_error(response, 401, "UNAUTHENTICATED")
    assert "srt_nothing" not in limited_tenant.server.app.state.limits.rate


def test_a_rate_limited_subscribe_gets_its_own_error_and_the_connection_stays(
    limited_tenant: Tenant,
) -> None:
    tenant = limited_tenant
    _, token = tenant.token()
    session_id = tenant.new_session()
    with ws(tenant.server, token) as connection:
        for index in range(BURST + 4):
            subscribe(connection, tenant, f"s{index}", session_id)
        answers: dict[str, dict[str, Any]] = {}
        while len(answers) < BURST + 4:
            message = receive(connection)
            answers.setdefault(message["id"], message)
        assert all(answers[f"s{index}"]["type"] == "snapshot" for index in range(BURST))
        refused = [message for message in answers.values() if message["type"] == "error"]
        assert refused, answers
        assert {message["error"]["code"] for message in refused} == {"RESOURCE_EXHAUSTED"}
        wait = refused[0]["error"]["details"]["retryAfter"]
        assert isinstance(wait, int) and wait >= 1

        connection.send(json.dumps({"type": "ping"}))
        assert receive(connection) == {"type": "pong"}
        time.sleep(wait)
        subscribe(connection, tenant, "late", session_id)
        late = receive(connection)
        assert (late["type"], late["id"]) == ("snapshot", "late")


# -- open subscriptions per token ---------------------------------------------------------


def open_count(server: RunningServer, record_id: str) -> int:
    counter: SubscriptionCounter = server.app.state.limits.subscriptions
    return counter.open_count(record_id)


def wait_for_open_count(server: RunningServer, record_id: str, expected: int) -> None:
    """The server notices a closed stream on its own loop: wait for it, briefly."""
    deadline = time.monotonic() + 5
    while open_count(server, record_id) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert open_count(server, record_id) == expected


def test_open_subscriptions_are_capped_per_token_across_sse_and_websocket(
    capped_tenant: Tenant,
) -> None:
    tenant, server = capped_tenant, capped_tenant.server
    record_id, token = tenant.token()
    _, other = tenant.token()
    session_id = tenant.new_session()
    events_url = tenant.url(session_id, "/events")
    with (
        httpx.Client(timeout=10) as http,
        ws(server, token) as first,
        ws(server, token) as second,
    ):
        subscribe(first, tenant, "a1", session_id)
        subscribe(first, tenant, "a2", session_id)
        assert [receive(first)["type"] for _ in range(2)] == ["snapshot", "snapshot"]
        with http.stream("GET", events_url, headers=auth(token)) as stream:
            assert stream.status_code == 200
            assert open_count(server, record_id) == 3

            # The fourth, on another connection: refused there, the connection stays open.
            subscribe(second, tenant, "b1", session_id)
            refused = receive(second)
            assert (refused["type"], refused["id"]) == ("error", "b1")
            assert refused["error"]["code"] == "RESOURCE_EXHAUSTED"
            assert refused["error"]["details"] == {"limit": 3}
            second.send(json.dumps({"type": "ping"}))
            assert receive(second) == {"type": "pong"}

            # And over SSE.
            error = assert_error(
                http.get(events_url, headers=auth(token)), 429, "RESOURCE_EXHAUSTED"
            )
            assert error["details"] == {"limit": 3}

            # Another token is not affected.
            with http.stream("GET", events_url, headers=auth(other)) as theirs:
                assert theirs.status_code == 200

            # Closing a WebSocket subscription frees its place.
            first.send(json.dumps({"type": "unsubscribe", "id": "a1"}))
            assert receive(first) == {"type": "unsubscribed", "id": "a1"}
            subscribe(second, tenant, "b1", session_id)
            assert receive(second)["type"] == "snapshot"

        # Closing the SSE stream frees its place too.
        wait_for_open_count(server, record_id, 2)
        with http.stream("GET", events_url, headers=auth(token)) as stream:
            assert stream.status_code == 200
    # Closing the connections frees theirs.
    wait_for_open_count(server, record_id, 0)
    assert record_id not in server.app.state.limits.subscriptions._open


def test_a_refused_subscribe_holds_no_place(capped_tenant: Tenant) -> None:
    tenant, server = capped_tenant, capped_tenant.server
    record_id, token = tenant.token()
    with httpx.Client(timeout=10) as http, ws(server, token) as connection:
        for index in range(5):
            subscribe(connection, tenant, f"x{index}", "no-such-session")
            assert receive(connection)["error"]["code"] == "NOT_FOUND"
            missing = http.get(tenant.url("no-such-session", "/events"), headers=auth(token))
            assert_error(missing, 404, "NOT_FOUND")
        assert open_count(server, record_id) == 0


# -- size caps ----------------------------------------------------------------------------


def raw_request(server: RunningServer, head: str) -> tuple[int, dict[str, Any]]:
    """Send only a request's head (no body) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(head.encode("latin-1"))
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_a_body_over_the_cap_is_refused_before_being_sent(
    capped_tenant: Tenant, method: str
) -> None:
    tenant, server = capped_tenant, capped_tenant.server
    _, token = tenant.token()
    session_id = tenant.new_session()
    before = tenant.session_count()
    path = tenant.url(session_id if method == "PATCH" else None).removeprefix(server.base_url)
    limit = server.app.state.settings.max_body_bytes
    # The body is announced and never sent: an answer proves nothing of it was waited for.
    status, body = raw_request(
        server,
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n",
    )
    assert status == 413
    assert body == {
        "error": {
            "code": "RESOURCE_EXHAUSTED",
            "message": f"the request body is larger than {limit} bytes",
            "details": {"limit": limit},
        }
    }
    assert tenant.stored(session_id).version == 1
    assert tenant.session_count() == before


def test_a_streamed_body_over_the_cap_creates_nothing(capped_tenant: Tenant) -> None:
    tenant = capped_tenant
    _, token = tenant.token()
    before = tenant.session_count()
    limit = tenant.server.app.state.settings.max_body_bytes
    padding = {"eventId": tenant.event_id, "pad": "p" * limit}

    def chunks() -> Iterator[bytes]:
        encoded = json.dumps({**tenant.body(), **padding}).encode()
        for start in range(0, len(encoded), 1024):
            yield encoded[start : start + 1024]

    with httpx.Client(timeout=10) as http:
        response = http.post(tenant.url(), content=chunks(), headers=auth(token))
    assert_error(response, 413, "RESOURCE_EXHAUSTED")
    assert tenant.session_count() == before


def test_a_websocket_message_over_the_cap_gets_an_error_and_nothing_else_changes(
    capped_tenant: Tenant,
) -> None:
    tenant, server = capped_tenant, capped_tenant.server
    _, token = tenant.token()
    session_id = tenant.new_session()
    cap = server.app.state.settings.ws_max_message_bytes
    expected = {"code": "RESOURCE_EXHAUSTED", "details": {"limit": cap}}
    with ws(server, token) as connection:
        subscribe(connection, tenant, "live", session_id)
        assert receive(connection)["session"]["version"] == 1
        # Fewer characters than the cap, more bytes: the cap is in bytes.
        text = json.dumps({"type": "ping", "pad": "€" * (cap // 2)}, ensure_ascii=False)
        assert len(text) < cap < len(text.encode())
        for oversized in (text, b"{" * (cap + 1)):
            connection.send(oversized)
            error = receive(connection)
            assert (error["type"], error["id"]) == ("error", None)
            assert {key: error["error"][key] for key in expected} == expected
        # The subscription carries on, and the connection still answers.
        update = {"sessionId": session_id, "currentStepIndex": 2}
        tenant.server.call(
            tenant.server.service.update_session_progress(SYSTEM, tenant.project_id, update)
        )
        assert receive(connection)["session"]["version"] == 2
        connection.send(json.dumps({"type": "ping"}))
        assert receive(connection) == {"type": "pong"}


def test_a_websocket_frame_past_the_transport_limit_closes_the_connection(
    capped_tenant: Tenant,
) -> None:
    tenant, server = capped_tenant, capped_tenant.server
    _, token = tenant.token()
    cap = server.app.state.settings.ws_max_message_bytes
    with ws(server, token) as connection:
        connection.send("x" * (cap * 4 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# -- the limiter itself -------------------------------------------------------------------


def test_the_bucket_map_stays_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=3, max_buckets=100)
    for index in range(10_000):
        limiter.take(f"token-{index}")
        assert len(limiter) <= 100
    for _ in range(3):
        limiter.take("busy")
    with pytest.raises(ResourceExhaustedError) as refused:
        limiter.take("busy")
    assert refused.value.http_status == 429
    assert isinstance(refused.value.retry_after, int) and refused.value.retry_after >= 1


def test_principals_without_a_token_record_are_not_limited() -> None:
    limits = Limits(RateLimiter(rate=1.0, burst=1), SubscriptionCounter(cap=1))
    member = Member(project_id="p", user="u", role=Role.OWNER)
    for _ in range(10):
        limits.check_rate(SYSTEM)
        limits.check_rate(member)
        limits.open_subscription(SYSTEM)
    assert len(limits.rate or []) == 0 and len(limits.subscriptions or []) == 0


def test_a_lease_released_twice_counts_once() -> None:
    counter = SubscriptionCounter(cap=2)
    first, second = counter.acquire("t"), counter.acquire("t")
    first.release()
    first.release()
    assert counter.open_count("t") == 1
    second.release()
    assert counter.open_count("t") == 0 and len(counter) == 0


def test_every_route_that_takes_a_token_documents_429(capped: RunningServer) -> None:
    spec = capped.app.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            if "401" in responses:
                assert "429" in responses, f"{method.upper()} {path}"
