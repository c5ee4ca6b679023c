"""``Idempotency-Key`` over HTTP, on a real server: replays, refusals, concurrency, OpenAPI.

The concurrency test runs on both stores: real requests from many threads at once, each with
the same key, against a uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from session_runtime import SYSTEM
from session_runtime.api import create_app
from session_runtime.api.idempotency import claim_of, install_replay_handler
from session_runtime.domain.idempotency import RequestReplayed, StoredResponse
from session_runtime.idempotency import IdempotencyKeys
from session_runtime.runtime import SessionRuntime
from session_runtime.settings import Settings

from ..factories import ManualClock
from ..support.postgres import PostgresDatabase
from ..support.server import RunningServer, Seed, running_server, seed


def new_key() -> str:
    return secrets.token_urlsafe(16)


def create(http: httpx.Client, seeded: Seed, **headers: str) -> httpx.Response:
    return http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers={**seeded.headers(seeded.owner), **headers},
    )


def test_a_replayed_patch_answers_the_stored_response_and_writes_nothing(
    http: httpx.Client, seeded: Seed
) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = {**seeded.headers(seeded.owner), "Idempotency-Key": new_key()}
    body = {"currentStepIndex": 1, "inputs": {"answers": {"q1": "yes"}}}
    first = http.patch(url, json=body, headers=headers)
    assert first.status_code == 200
    assert "idempotency-replayed" not in first.headers
    # The same JSON in another order and spacing is the same request.
    again = http.patch(
        url,
        content=b'{ "inputs": {"answers": {"q1": "yes"}}, "currentStepIndex": 1 }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status_code == 200
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"] == '"2"'
    assert again.json() == first.json()
    assert http.get(url, headers=seeded.headers(seeded.owner)).json()["version"] == 2


def test_a_replayed_create_answers_201_with_the_same_session(
    http: httpx.Client, seeded: Seed
) -> None:
    key = new_key()
    first = create(http, seeded, **{"Idempotency-Key": key})
    again = create(http, seeded, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    listed = http.get(
        f"/v1/projects/{seeded.project_id}/sessions",
        params={"limit": 500},
        headers=seeded.headers(seeded.owner),
    ).json()["items"]
    assert [item["id"] for item in listed].count(first.json()["sessionId"]) == 1


@pytest.mark.parametrize("action", ["complete", "abandon", "fail"])
def test_transitions_take_a_key(http: httpx.Client, seeded: Seed, action: str) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/{action}"
    headers = {**seeded.headers(seeded.owner), "Idempotency-Key": new_key()}
    body = {"reason": "camera lost"} if action != "complete" else None
    first = http.post(url, json=body, headers=headers)
    again = http.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    if action != "complete":
        other = http.post(url, json={"reason": "something else"}, headers=headers)
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_key_reused_for_another_request_is_refused(http: httpx.Client, seeded: Seed) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = {**seeded.headers(seeded.owner), "Idempotency-Key": new_key()}
    assert http.patch(url, json={"currentStepIndex": 1}, headers=headers).status_code == 200
    refused = http.patch(url, json={"currentStepIndex": 2}, headers=headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["path"] == "Idempotency-Key"
    assert "different request" in error["message"]
    # Another path under the same key is another request too.
    other = create(http, seeded).json()["sessionId"]
    elsewhere = f"/v1/projects/{seeded.project_id}/sessions/{other}"
    assert http.patch(elsewhere, json={"currentStepIndex": 1}, headers=headers).status_code == 422
    assert http.get(url, headers=seeded.headers(seeded.owner)).json()["currentStepIndex"] == 1


@pytest.mark.parametrize("key", ["", "with space", "é-accent", "x" * 256, "inner\ttab"], ids=repr)
def test_a_bad_key_is_a_validation_error_and_writes_nothing(
    http: httpx.Client, seeded: Seed, key: str
) -> None:
    session_id = create(http, seeded).json()["sessionId"]
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    response = http.patch(
        url,
        json={"currentStepIndex": 3},
        headers={**seeded.headers(seeded.owner), "Idempotency-Key": key.encode("utf-8")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["path"] == "Idempotency-Key"
    assert http.get(url, headers=seeded.headers(seeded.owner)).json()["version"] == 1


def test_the_longest_key_is_accepted(http: httpx.Client, seeded: Seed) -> None:
    key = "~" * 255
    assert create(http, seeded, **{"Idempotency-Key": key}).status_code == 201
    assert create(http, seeded, **{"Idempotency-Key": key}).headers["idempotency-replayed"]


def test_a_guest_cannot_replay_another_callers_key(http: httpx.Client, seeded: Seed) -> None:
    key = new_key()
    mine = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers={**seeded.headers(seeded.guest), "Idempotency-Key": key},
    )
    theirs = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers={**seeded.headers(seeded.other_guest), "Idempotency-Key": key},
    )
    assert mine.status_code == theirs.status_code == 201
    assert "idempotency-replayed" not in theirs.headers
    assert theirs.json()["sessionId"] != mine.json()["sessionId"]


# The session mutations. The guest routes (join links, join, share links, erasure) do not take
# the key yet.
def test_openapi_documents_the_header_on_every_mutation(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    mutations = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "patch", "put", "delete"):
                continue
            mutations.append(f"{method.upper()} {path}")
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            assert "Idempotency-Key" in names, f"{method.upper()} {path}"
            success = operation["responses"].get("201") or operation["responses"]["200"]
            assert "Idempotency-Replayed" in success.get("headers", {}), f"{method} {path}"
    # The session mutations and every guest one: join links, joining, erasure, share links.
    assert {
        "POST /v1/projects/{project_id}/links",
        "POST /v1/projects/{project_id}/links/{link_id}/revoke",
        "POST /v1/join/{code}",
        "DELETE /v1/me",
        "DELETE /v1/projects/{project_id}/guests/{guest_id}",
        "POST /v1/projects/{project_id}/sessions/{session_id}/shares",
        "POST /v1/projects/{project_id}/sessions/{session_id}/shares/{share_id}/revoke",
    } <= set(mutations)
    assert len(mutations) >= 12


# -- concurrency, on both stores ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Seed]]:
    settings = Settings(database_path=tmp_path / "sessions.db", rate_limit_per_second=0)
    if request.param == "sqlite":

        def runtime() -> SessionRuntime:
            return SessionRuntime.sqlite(settings.database_path)
    else:
        database: PostgresDatabase = request.getfixturevalue("postgres")
        schema = database.new_schema()

        def runtime() -> SessionRuntime:
            return SessionRuntime.postgres(database.dsn, schema=schema)

    async def seeded() -> Seed:
        async with runtime() as opened:
            return await seed(opened.service)

    seeds = asyncio.run(seeded())
    with running_server(settings, app=create_app(settings, runtime())) as server:
        yield server, seeds


def test_concurrent_requests_with_one_key_apply_once(
    any_server: tuple[RunningServer, Seed],
) -> None:
    server, seeded = any_server
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        session_id = create(http, seeded).json()["sessionId"]
    url = f"{server.base_url}/v1/projects/{seeded.project_id}/sessions/{session_id}"
    headers = {**seeded.headers(seeded.owner), "Idempotency-Key": new_key()}
    body = {"currentStepIndex": 5, "inputs": {"tally": {"once": True}}}
    start = threading.Barrier(16)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            start.wait(timeout=30)
            response = client.patch(url, json=body, headers=headers)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 16
    assert {response.status_code for response in answers} == {200}
    replayed = [r for r in answers if r.headers.get("idempotency-replayed") == "true"]
    assert len(replayed) == 15
    assert {r.json()["version"] for r in answers} == {2}
    with httpx.Client(timeout=30) as http:
        stored = http.get(url, headers=seeded.headers(seeded.owner)).json()
    assert stored["version"] == 2


def test_the_sweeper_deletes_expired_keys(tmp_path: Path) -> None:
    clock = ManualClock()
    settings = Settings(
        database_path=tmp_path / "keys.db",
        idempotency_ttl_seconds=3600,
        sweep_interval_seconds=0.05,
    )
    runtime = SessionRuntime.sqlite(settings.database_path, clock=clock)
    with running_server(settings, app=create_app(settings, runtime)) as server:
        seeded = server.call(seed(server.service))
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            create(http, seeded, **{"Idempotency-Key": new_key()})

        def stored_keys() -> int:
            with sqlite3.connect(settings.database_path) as conn:
                count: int = conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0]
                return count

        assert stored_keys() == 1
        clock.advance(timedelta(hours=1))
        deadline = time.monotonic() + 10
        while stored_keys() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored_keys() == 0


async def test_a_fastapi_route_makes_its_write_keyed_in_one_line(tmp_path: Path) -> None:
    """What the join, share and erase routes will do: ``claim_of`` and the replay handler."""
    app = FastAPI()
    install_replay_handler(app)
    clock = ManualClock()
    seen: dict[str, StoredResponse] = {}
    app.state.idempotency = IdempotencyKeys(_UnusedStore(), clock=clock)  # type: ignore[arg-type]

    @app.post("/v1/things")
    async def make_thing(request: Request) -> dict[str, str]:
        claim = claim_of(request, SYSTEM, {"a": 1}, lambda name: StoredResponse(201, (), name))
        assert claim is not None
        # A store that finds the key raises this inside its transaction:
        if claim.key in seen:
            raise RequestReplayed(seen[claim.key])
        seen[claim.key] = claim.render(b'{"made":true}')
        return {"made": "now"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.post("/v1/things", headers={"Idempotency-Key": "k"})
        again = await client.post("/v1/things", headers={"Idempotency-Key": "k"})
    assert first.json() == {"made": "now"}
    assert (again.status_code, again.json()) == (201, {"made": True})
    assert again.headers["idempotency-replayed"] == "true"


class _UnusedStore:
    async def prune_idempotency_records(self, now: object) -> int:
        return 0
