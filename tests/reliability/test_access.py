"""Who gets in: every route and stream against every caller that must be refused.

Callers: none, malformed, revoked and expired tokens, another project's member, a viewer,
guests of another event, of the same link and kiosk guests on another guest's session, and
the guest itself (which must get its own, and nothing of anyone else's).

The matrix is ``ROUTES`` x ``CALLERS``; ``expected`` says, from the design's rules
(``domain/auth.py``), what each pair must get: 401 ``UNAUTHENTICATED`` without a usable token,
403 ``PERMISSION_DENIED`` for a token that may not do this, or an answer that shows nothing of
the session under attack (a guest's listing, a member's own project). A new route is one more
``Route`` line. Every answer, refused or not, is searched (body and headers) for the attacked
session's id and for a value its guest entered; at the end both attacked sessions are exactly
as they were.

``test_tokens_never_reach_the_logs`` runs the real ``session-runtime -vv serve`` (DEBUG, uvicorn
and websockets included) and searches everything it printed for the tokens it was given.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from session_runtime import SYSTEM, SessionRuntime
from session_runtime.domain.timestamps import utc_now
from session_runtime.domain.tokens import TokenKind, TokenRecord, hash_token, new_id, new_secret
from session_runtime.settings import Settings

from ..support.postgres import free_port
from ..support.server import RunningServer, Seed, running_server, seed

CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
MALFORMED_AUTHORIZATIONS = [
    "", "Bearer", "Basic dXNlcjpwYXNz", "Token srt_abc", "Bearer a b",
    "Bearer srt_" + "A" * 43, "Bearer " + "x" * 600, "Bearer \u00e9t\u00e9", "bearer",
]  # fmt: skip


@dataclass(frozen=True)
class Route:
    """One HTTP route: ``{project}`` and ``{session}`` are filled in per caller."""

    name: str
    method: str
    path: str
    kind: str  # public, global, project, members, listing, create, read, write, own,
    # links (owners and editors), owner (erase a guest), erase-self
    body: dict[str, Any] | None = None
    is_stream: bool = False


_ONE = "/v1/projects/{project}/sessions/{session}"
ROUTES = [
    Route("dashboard", "GET", "/", "public"),
    Route("me", "GET", "/v1/me", "global"),
    Route("projects", "GET", "/v1/projects", "global"),
    Route("events", "GET", "/v1/projects/{project}/events", "project"),
    Route("experiences", "GET", "/v1/projects/{project}/experiences", "project"),
    Route("stats", "GET", "/v1/projects/{project}/stats", "members"),
    Route("list", "GET", "/v1/projects/{project}/sessions", "listing"),
    Route("export", "GET", "/v1/projects/{project}/sessions:export", "listing"),
    Route("create", "POST", "/v1/projects/{project}/sessions", "create", body={}),
    Route("get", "GET", _ONE, "read"),
    Route("sse", "GET", _ONE + "/events", "read", is_stream=True),
    Route("patch", "PATCH", _ONE, "write", body={"inputs": {"taken": "over"}}),
    Route("complete", "POST", _ONE + "/complete", "write", body={}),
    Route("abandon", "POST", _ONE + "/abandon", "write", body={"reason": "taken"}),
    Route("fail", "POST", _ONE + "/fail", "write", body={"reason": "taken"}),
    Route("links", "GET", "/v1/projects/{project}/links", "links"),
    Route("link create", "POST", "/v1/projects/{project}/links", "links", body={}),
    Route("link revoke", "POST", "/v1/projects/{project}/links/{link}/revoke", "links"),
    Route("join", "POST", "/v1/join/{code}", "public"),
    Route("join qr", "GET", "/v1/join/{code}/qr.svg", "public"),
    Route("guest page", "GET", "/join/{code}", "public"),
    Route("my sessions", "GET", "/v1/me/sessions", "own"),
    Route("share", "POST", _ONE + "/shares", "write", body={}),
    Route("shares", "GET", _ONE + "/shares", "read"),
    Route("share revoke", "POST", _ONE + "/shares/{share}/revoke", "write"),
    Route("shared json", "GET", "/v1/shares/{shared}", "public"),
    Route("shared page", "GET", "/share/{shared}", "public"),
    Route("erase guest", "DELETE", "/v1/projects/{project}/guests/{guest}", "owner"),
    Route("erase me", "DELETE", "/v1/me", "erase-self"),
]


@dataclass(frozen=True)
class World:
    """The seed, and two guest sessions under attack, each holding a value its guest entered."""

    seed: Seed
    guest_session: str  # created by `seed.guest`
    guest_marker: str
    event_session: str  # created by a guest of `seed.other_event_id`
    event_marker: str
    guest_id: str  # `seed.guest`'s guestId
    link_id: str
    join_code: str
    joined_guest: str  # a guest who joined by `join_code`
    expired: str  # a joined guest's token, past its expiry
    share_id: str  # a share link of a completed session of `seed.guest`...
    share_code: str
    shared_session: str
    shared_marker: str  # ... whose inputs hold this, which its share never shows


@dataclass(frozen=True)
class Caller:
    name: str
    authorization: str | None
    session: str  # the session it attacks
    marker: str

    def forbidden(self, world: World) -> list[str]:
        """What no answer to this caller may contain."""
        if self.name == "the guest itself":  # its own, yes; nobody else's
            return [world.event_session, world.event_marker]
        return [self.session, self.marker, world.shared_session, world.shared_marker]


def callers(world: World) -> list[Caller]:
    s = world.seed
    on_guest = (world.guest_session, world.guest_marker)
    result = [Caller("no token", None, *on_guest)]
    result += [Caller(f"malformed {value!r}"[:40], value, *on_guest) for value in
               MALFORMED_AUTHORIZATIONS]  # fmt: skip
    result += [
        Caller("revoked", f"Bearer {s.revoked}", *on_guest),
        Caller("expired", f"Bearer {world.expired}", *on_guest),
        Caller("another project's member", f"Bearer {s.stranger}", *on_guest),
        Caller("viewer", f"Bearer {s.viewer}", *on_guest),
        Caller("guest of another event", f"Bearer {s.event_guest}", world.event_session,
               world.event_marker),
        Caller("guest on another guest's session", f"Bearer {s.other_guest}", *on_guest),
        Caller("joined guest on another guest's session", f"Bearer {world.joined_guest}",
               *on_guest),
        Caller("the guest itself", f"Bearer {s.guest}", *on_guest),
    ]  # fmt: skip
    return result


def expected(route: Route, caller: Caller) -> int | None:
    """401 or 403 when refused; ``None`` when answered (and searched for leaks); 0: skip."""
    name = caller.name
    if route.kind == "public":
        return None  # whoever holds the code, with whatever token
    if name in ("no token", "revoked", "expired") or name.startswith("malformed"):
        return 401
    if name == "another project's member":
        return None if route.kind in ("global", "own") else 403
    if name == "viewer":
        if route.kind in ("write", "create", "links", "owner", "erase-self"):
            return 403
        return 0  # a viewer reads everything
    if name == "the guest itself":
        # It reads its own; its writes, creates and erasure are tested elsewhere (they change
        # what this matrix keeps unchanged). Links and the stats are not a guest's.
        if route.kind in ("links", "members"):
            return 403
        return None if route.kind in ("read", "own", "global", "project", "listing") else 0
    # Guests: never another's session, never the stats or links; a listing shows only their own.
    if route.kind in ("read", "write", "members", "links", "owner"):
        return 403
    if route.kind == "erase-self":
        return 0  # it would erase itself: allowed, and tested elsewhere
    if route.kind == "create":
        # The event guest asks for the other event's sessions; the other guest may create.
        return 403 if name == "guest of another event" else 0
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("access")
    settings = Settings(
        database_path=folder / "sessions.db",
        heartbeat_seconds=0.2,
        rate_limit_per_second=0,  # the limits have tests of their own
    )
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def world(server: RunningServer) -> World:
    s = server.call(seed(server.service))
    _, other_event_guest = server.call(
        server.service.create_guest_token(SYSTEM, s.project_id, event_id=s.other_event_id)
    )
    with httpx.Client(base_url=server.base_url, timeout=10) as http:

        def session(token: str, event_id: str, marker: str) -> str:
            url = f"/v1/projects/{s.project_id}/sessions"
            body = s.session_body(eventId=event_id)
            created = http.post(url, json=body, headers=s.headers(token))
            assert created.status_code == 201, created.text
            session_id: str = created.json()["sessionId"]
            patch = {"inputs": {"secret": marker}}
            changed = http.patch(f"{url}/{session_id}", json=patch, headers=s.headers(token))
            assert changed.status_code == 200, changed.text
            return session_id

        guest_marker, event_marker = "guest-entered-7f3a", "event-guest-entered-91c2"
        shared_marker = "shared-session-input-5d0e"
        shared_session = session(s.guest, s.event_id, shared_marker)
        url = f"/v1/projects/{s.project_id}/sessions/{shared_session}"
        assert http.post(f"{url}/complete", headers=s.headers(s.guest)).status_code == 200
        share = http.post(f"{url}/shares", headers=s.headers(s.guest)).json()
        link = http.post(f"/v1/projects/{s.project_id}/links", headers=s.headers(s.owner)).json()
        joined = http.post(f"/v1/join/{link['code']}").json()
        return World(
            seed=s,
            guest_session=session(s.guest, s.event_id, guest_marker),
            guest_marker=guest_marker,
            event_session=session(other_event_guest, s.other_event_id, event_marker),
            event_marker=event_marker,
            guest_id=server.call(server.service.authenticate(s.guest)).created_by,
            link_id=link["id"],
            join_code=link["code"],
            joined_guest=joined["token"],
            expired=server.call(_expired_guest_token(server, s.project_id)),
            share_id=share["id"],
            share_code=share["url"].rsplit("/", 1)[1],
            shared_session=shared_session,
            shared_marker=shared_marker,
        )


async def _expired_guest_token(server: RunningServer, project_id: str) -> str:
    """A guest token that expired a minute ago, as a joined guest's does after a day."""
    now = utc_now()
    secret = new_secret()
    await server.runtime.store.insert_token(
        TokenRecord(
            id=new_id(),
            project_id=project_id,
            kind=TokenKind.GUEST,
            token_hash=hash_token(secret),
            created_at=now - timedelta(days=1, minutes=1),
            expires_at=now - timedelta(minutes=1),
        )
    )
    return secret


def _request(
    http: httpx.Client, route: Route, caller: Caller, world: World
) -> tuple[httpx.Response, str]:
    """The answer and its text (an accepted stream would stay open: only its start is kept)."""
    s = world.seed
    path = route.path.format(
        project=s.project_id,
        session=caller.session,
        link=world.link_id,
        code=world.join_code,
        share=world.share_id,
        shared=world.share_code,
        guest=world.guest_id,
    )
    headers = {}
    if caller.authorization is not None:
        headers["Authorization"] = caller.authorization.encode()  # non-ASCII goes as UTF-8
    body = route.body
    if route.kind == "create":
        event = s.other_event_id if caller.session == world.event_session else s.event_id
        body = s.session_body(eventId=event)
    request = http.build_request(route.method, path, headers=headers, json=body)
    response = http.send(request, stream=True)
    try:
        if route.is_stream and response.status_code == 200:
            return response, next(response.iter_text(), "")
        return response, response.read().decode("utf-8", "replace")
    finally:
        response.close()


def _leaks(response: httpx.Response, text: str, forbidden: list[str]) -> list[str]:
    headers = " ".join(f"{name}: {value}" for name, value in response.headers.items())
    return [value for value in forbidden if value in text or value in headers]


def _snapshot(http: httpx.Client, world: World) -> list[Any]:
    s = world.seed
    return [
        http.get(
            f"/v1/projects/{s.project_id}/sessions/{session}", headers=s.headers(s.owner)
        ).json()
        for session in (world.guest_session, world.event_session)
    ]


def test_every_route_refuses_every_caller_it_must(server: RunningServer, world: World) -> None:
    started = time.monotonic()
    refused = answered = 0
    problems: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        before = _snapshot(http, world)
        sessions_before = len(
            http.get(
                f"/v1/projects/{world.seed.project_id}/sessions",
                params={"limit": 500},
                headers=world.seed.headers(world.seed.owner),
            ).json()["items"]
        )
        for caller in callers(world):
            for route in ROUTES:
                status = expected(route, caller)
                if status == 0:
                    continue
                response, text = _request(http, route, caller, world)
                where = f"{route.method} {route.name} as {caller.name}"
                leaked = _leaks(response, text, caller.forbidden(world))
                if leaked:
                    problems.append(f"{where}: the answer shows {leaked}")
                if status is None:
                    answered += 1
                    if response.status_code not in (200, 201):
                        problems.append(f"{where}: {response.status_code} {text[:200]}")
                    continue
                refused += 1
                if response.status_code != status:
                    problems.append(f"{where}: {response.status_code}, not {status}")
                    continue
                error = json.loads(text)["error"]
                if set(error) != {"code", "message", "details"} or error["code"] != CODES[status]:
                    problems.append(f"{where}: error body {error}")
        assert _snapshot(http, world) == before, "a refused write changed a session"
        sessions_after = len(
            http.get(
                f"/v1/projects/{world.seed.project_id}/sessions",
                params={"limit": 500},
                headers=world.seed.headers(world.seed.owner),
            ).json()["items"]
        )
    assert not problems, "\n".join(problems)
    # Only the allowed creates (none in this matrix) could add a session.
    assert sessions_after == sessions_before
    print(f"{len(ROUTES)} routes x {len(callers(world))} callers: {refused} refused, "
          f"{answered} answered without a leak, in {time.monotonic() - started:.2f} s")  # fmt: skip
    assert refused > 150 and answered > 20


# -- WebSocket -------------------------------------------------------------------------------


def _receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=5))
    return message


def _assert_refused(
    ws: ClientConnection, subscription: str, code: str, forbidden: list[str]
) -> None:
    message = _receive(ws)
    assert message["type"] == "error" and message["error"]["code"] == code, message
    assert message["id"] == subscription, message
    assert not [value for value in forbidden if value in json.dumps(message)]


def test_websocket_refuses_every_caller_it_must(server: RunningServer, world: World) -> None:
    s = world.seed
    project = s.project_id
    refusals = 0
    # Without a token: each subscribe is refused, the connection stays open.
    with connect(server.ws_url, open_timeout=5) as ws:
        for session in (world.guest_session, None):
            body = {"type": "subscribe", "id": "a", "projectId": project}
            ws.send(json.dumps(body if session is None else {**body, "sessionId": session}))
            _assert_refused(ws, "a", "UNAUTHENTICATED", [world.guest_session, world.guest_marker])
            refusals += 1
    # A malformed, revoked or expired token, in the header or in an auth message: refused and
    # closed.
    bad_tokens = [*MALFORMED_AUTHORIZATIONS[2:], f"Bearer {s.revoked}", f"Bearer {world.expired}"]
    for authorization in bad_tokens:
        for in_header in (True, False):
            if in_header and not authorization.isascii():
                continue  # the WebSocket client sends ASCII headers only
            headers = {"Authorization": authorization} if in_header else None
            with connect(server.ws_url, additional_headers=headers, open_timeout=5) as ws:
                if not in_header:
                    token = authorization.partition(" ")[2]
                    ws.send(json.dumps({"type": "auth", "token": token}))
                message = _receive(ws)
                assert message["error"]["code"] == "UNAUTHENTICATED", (authorization, message)
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
                refusals += 1
    # Valid tokens that may not follow the attacked session, nor the whole project.
    attackers = [
        (s.stranger, world.guest_session, world.guest_marker),
        (s.event_guest, world.event_session, world.event_marker),
        (s.other_guest, world.guest_session, world.guest_marker),
        (world.joined_guest, world.guest_session, world.guest_marker),
    ]
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for step, (token, session, marker) in enumerate(attackers, start=1):
            with connect(server.ws_url, additional_headers=s.headers(token)) as ws:
                ws.send(json.dumps({"type": "subscribe", "id": "one", "projectId": project,
                                    "sessionId": session}))  # fmt: skip
                _assert_refused(ws, "one", "PERMISSION_DENIED", [session, marker])
                ws.send(json.dumps({"type": "subscribe", "id": "all", "projectId": project}))
                _assert_refused(ws, "all", "PERMISSION_DENIED", [session, marker])
                refusals += 2
                if token == s.stranger:
                    # Following its own project is allowed, and shows nothing of this one.
                    own = {"type": "subscribe", "id": "own", "projectId": s.other_project_id}
                    ws.send(json.dumps(own))
                    assert _receive(ws) == {"type": "subscribed", "id": "own"}
                # A change to the attacked session reaches nobody on this connection.
                url = f"/v1/projects/{project}/sessions/{session}"
                change = {"currentStepIndex": step}
                assert http.patch(url, json=change, headers=s.headers(s.owner)).status_code == 200
                ws.send(json.dumps({"type": "ping"}))
                assert _receive(ws) == {"type": "pong"}
    print(f"{refusals} WebSocket refusals")


# -- tokens at rest and in the logs ----------------------------------------------------------


def test_the_database_holds_token_hashes_never_tokens(server: RunningServer, world: World) -> None:
    s = world.seed
    server.call(server.runtime.store.get_project(""))  # the writer has flushed
    path = Path(server.app.state.settings.database_path)
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    tokens = [s.owner, s.editor, s.viewer, s.guest, s.event_guest, s.other_guest, s.stranger]
    for token in [*tokens, s.revoked]:
        assert token.encode() not in stored
        assert token.removeprefix("srt_").encode() not in stored
    assert sum(hash_token(token).encode() in stored for token in tokens) == len(tokens)


def test_tokens_never_reach_the_logs(tmp_path: Path) -> None:
    database = tmp_path / "sessions.db"

    async def seeded() -> Seed:
        async with SessionRuntime.sqlite(database) as runtime:
            return await seed(runtime.service)

    s = asyncio.run(seeded())
    port = free_port()
    log = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSION_RUNTIME_")}
    command = [sys.executable, "-m", "session_runtime.cli", "-vv", "serve", "--port", str(port),
               "--database", str(database)]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    unknown = "srt_" + "Q" * 43
    try:
        with httpx.Client(base_url=base, timeout=5) as http:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, log.read_text(errors="replace")
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.05)
            for token in (s.owner, s.guest, s.revoked, unknown, s.stranger):
                headers = {"Authorization": f"Bearer {token}"}
                http.get("/v1/me", headers=headers)
                url = f"/v1/projects/{s.project_id}/sessions"
                created = http.post(url, json=s.session_body(), headers=headers)
                http.patch(f"{url}/nope", content=b"{bad json", headers=headers)
                http.get(f"{url}/nope/events", headers=headers)
                if created.status_code == 201:
                    session = created.json()["sessionId"]
                    http.post(f"{url}/{session}/complete", headers=headers)
                    http.get(f"{url}/{session}/events", headers=headers)
                ws_url = f"ws://127.0.0.1:{port}/v1/ws"
                for use_header in (True, False):
                    extra = headers if use_header else None
                    with connect(ws_url, additional_headers=extra, open_timeout=5) as ws:
                        subscribe = {"type": "subscribe", "id": "a", "projectId": s.project_id}
                        try:
                            if not use_header:
                                ws.send(json.dumps({"type": "auth", "token": token}))
                                ws.recv(timeout=5)
                            ws.send(json.dumps(subscribe))
                            ws.recv(timeout=5)
                        except ConnectionClosed:
                            pass  # a bad token: refused and closed (4401)
    finally:
        process.terminate()
        process.wait(timeout=15)
    printed = log.read_text(errors="replace")
    assert "DEBUG" in printed and "GET /v1/me" in printed, printed[-2000:]
    for token in (s.owner, s.guest, s.revoked, unknown, s.stranger):
        assert token.removeprefix("srt_") not in printed, "a token was logged"
    print(f"{len(printed.splitlines())} log lines at DEBUG, no token in them")
