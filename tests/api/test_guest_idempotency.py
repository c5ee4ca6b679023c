"""``Idempotency-Key`` on the guest routes, on a real server over both stores: a replay answers
the same and writes nothing, another request under the same key is refused, concurrent
requests with one key apply once, and a replayed erase brings nothing back."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from session_runtime.api import create_app
from session_runtime.runtime import SessionRuntime
from session_runtime.settings import Settings

from ..support.postgres import PostgresDatabase
from ..support.server import RunningServer, Seed, running_server, seed

Store = tuple[RunningServer, Seed]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    folder: Path = tmp_path_factory.mktemp("keyed-guests")
    # Many joins from 127.0.0.1: the per-address and per-link limits are not what is tested.
    settings = Settings(
        database_path=folder / "sessions.db",
        rate_limit_per_second=0,
        joins_per_address_per_minute=0,
        joins_per_link_per_minute=0,
    )
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


@pytest.fixture
def http(store: Store) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=store[0].base_url, timeout=30) as client:
        yield client


def new_key() -> str:
    return secrets.token_urlsafe(16)


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def make_link(http: httpx.Client, seeded: Seed, **body: Any) -> dict[str, Any]:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/links", json=body, headers=seeded.headers(seeded.owner)
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def links(http: httpx.Client, seeded: Seed) -> list[dict[str, Any]]:
    listed = http.get(
        f"/v1/projects/{seeded.project_id}/links", headers=seeded.headers(seeded.owner)
    )
    assert listed.status_code == 200
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def joined_count(http: httpx.Client, seeded: Seed, link_id: str) -> int:
    (link,) = [link for link in links(http, seeded) if link["id"] == link_id]
    count: int = link["joinedCount"]
    return count


def guest_session(http: httpx.Client, seeded: Seed, token: str, *, complete: bool) -> str:
    auth = seeded.headers(token)
    base = f"/v1/projects/{seeded.project_id}/sessions"
    created = http.post(base, json=seeded.session_body(), headers=auth)
    assert created.status_code == 201, created.text
    session_id: str = created.json()["sessionId"]
    patch = {"outputs": {"portrait": {"mediaAssetId": "m-1", "url": "https://cdn.example/p"}}}
    assert http.patch(f"{base}/{session_id}", json=patch, headers=auth).status_code == 200
    if complete:
        assert http.post(f"{base}/{session_id}/complete", headers=auth).status_code == 200
    return session_id


def new_guest(http: httpx.Client, link: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"/v1/join/{link['code']}")
    assert response.status_code == 201, response.text
    guest: dict[str, Any] = response.json()
    return guest


def assert_replayed(first: httpx.Response, again: httpx.Response) -> None:
    assert "idempotency-replayed" not in first.headers
    assert again.headers["idempotency-replayed"] == "true"
    assert again.status_code == first.status_code
    assert again.json() == first.json()


def assert_refused_as_reused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["path"] == "Idempotency-Key"


def at_once(count: int, send: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """``count`` requests released together from their own threads and connections."""
    start = threading.Barrier(count)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            start.wait(timeout=30)
            response = send(client)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == count
    return answers


def assert_applied_once(answers: list[httpx.Response], status: int) -> None:
    assert {response.status_code for response in answers} == {status}, [
        response.text for response in answers
    ]
    replayed = [r for r in answers if r.headers.get("idempotency-replayed") == "true"]
    assert len(replayed) == len(answers) - 1
    assert len({r.content for r in answers}) == 1


# -- join links ------------------------------------------------------------------------------


def test_a_replayed_link_creation_makes_no_second_link(http: httpx.Client, store: Store) -> None:
    seeded = store[1]
    url = f"/v1/projects/{seeded.project_id}/links"
    headers = keyed(seeded.headers(seeded.owner), new_key())
    before = len(links(http, seeded))
    first = http.post(url, json={"label": "Door A", "maxGuests": 50}, headers=headers)
    again = http.post(url, json={"maxGuests": 50, "label": "Door A"}, headers=headers)
    assert first.status_code == 201, first.text
    assert_replayed(first, again)
    assert len(links(http, seeded)) == before + 1
    assert_refused_as_reused(http.post(url, json={"label": "Door B"}, headers=headers))
    assert len(links(http, seeded)) == before + 1


def test_concurrent_link_creations_with_one_key_make_one_link(
    http: httpx.Client, store: Store
) -> None:
    server, seeded = store
    url = f"{server.base_url}/v1/projects/{seeded.project_id}/links"
    headers = keyed(seeded.headers(seeded.owner), new_key())
    before = len(links(http, seeded))
    answers = at_once(8, lambda client: client.post(url, json={"label": "x"}, headers=headers))
    assert_applied_once(answers, 201)
    assert len(links(http, seeded)) == before + 1


def test_a_replayed_link_revocation_answers_the_same_revocation(
    http: httpx.Client, store: Store
) -> None:
    seeded = store[1]
    link = make_link(http, seeded)
    url = f"/v1/projects/{seeded.project_id}/links/{link['id']}/revoke"
    headers = keyed(seeded.headers(seeded.owner), new_key())
    first = http.post(url, headers=headers)
    again = http.post(url, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["revokedAt"] is not None
    assert_replayed(first, again)
    other = make_link(http, seeded)
    assert_refused_as_reused(
        http.post(f"/v1/projects/{seeded.project_id}/links/{other['id']}/revoke", headers=headers)
    )
    assert {item["id"]: item["revokedAt"] for item in links(http, seeded)}[other["id"]] is None
    third = make_link(http, seeded)
    third_url = f"{store[0].base_url}/v1/projects/{seeded.project_id}/links/{third['id']}/revoke"
    concurrent = keyed(seeded.headers(seeded.owner), new_key())
    answers = at_once(6, lambda client: client.post(third_url, headers=concurrent))
    assert_applied_once(answers, 200)


# -- joining --------------------------------------------------------------------------------


def test_a_replayed_join_hands_back_the_same_guest_and_makes_no_second(
    http: httpx.Client, store: Store
) -> None:
    seeded = store[1]
    link = make_link(http, seeded, maxGuests=1)
    key = new_key()
    first = http.post(f"/v1/join/{link['code']}", headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    # The link is full now, yet the retry of the join that filled it gets its guest back.
    again = http.post(f"/v1/join/{link['code']}", headers={"Idempotency-Key": key})
    assert_replayed(first, again)
    assert joined_count(http, seeded, link["id"]) == 1
    me = http.get("/v1/me/sessions", headers=seeded.headers(again.json()["token"]))
    assert me.status_code == 200
    # Keys of joins belong to their link (and address): by another link, the key is new.
    other = make_link(http, seeded)
    elsewhere = http.post(f"/v1/join/{other['code']}", headers={"Idempotency-Key": key})
    assert elsewhere.status_code == 201  # another link: another scope, not a reuse
    assert elsewhere.json()["guestId"] != first.json()["guestId"]
    assert joined_count(http, seeded, other["id"]) == 1


def test_a_join_with_a_reused_key_and_another_body_is_refused(
    http: httpx.Client, store: Store
) -> None:
    seeded = store[1]
    link = make_link(http, seeded)
    headers = {"Idempotency-Key": new_key()}
    assert http.post(f"/v1/join/{link['code']}", headers=headers).status_code == 201
    refused = http.post(f"/v1/join/{link['code']}", json={"again": True}, headers=headers)
    assert_refused_as_reused(refused)
    assert joined_count(http, seeded, link["id"]) == 1


def test_concurrent_joins_with_one_key_make_one_guest(http: httpx.Client, store: Store) -> None:
    server, seeded = store
    link = make_link(http, seeded)
    url = f"{server.base_url}/v1/join/{link['code']}"
    headers = {"Idempotency-Key": new_key()}
    answers = at_once(8, lambda client: client.post(url, headers=headers))
    assert_applied_once(answers, 201)
    assert joined_count(http, seeded, link["id"]) == 1


# -- share links ----------------------------------------------------------------------------


def test_share_links_replay_refuse_and_apply_once(http: httpx.Client, store: Store) -> None:
    server, seeded = store
    guest = new_guest(http, make_link(http, seeded))
    session_id = guest_session(http, seeded, guest["token"], complete=True)
    url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/shares"
    auth = seeded.headers(guest["token"])
    headers = keyed(auth, new_key())
    first = http.post(url, json={"expiresInSeconds": 3600}, headers=headers)
    assert first.status_code == 201, first.text
    again = http.post(url, json={"expiresInSeconds": 3600}, headers=headers)
    assert_replayed(first, again)
    assert http.get(again.json()["jsonUrl"]).status_code == 200
    assert len(http.get(url, headers=auth).json()["items"]) == 1
    assert_refused_as_reused(http.post(url, json={"expiresInSeconds": 60}, headers=headers))
    concurrent = keyed(auth, new_key())
    answers = at_once(6, lambda client: client.post(server.base_url + url, headers=concurrent))
    assert_applied_once(answers, 201)
    assert len(http.get(url, headers=auth).json()["items"]) == 2

    revoke = f"{url}/{first.json()['id']}/revoke"
    revoking = keyed(auth, new_key())
    first_revoke = http.post(revoke, headers=revoking)
    assert first_revoke.status_code == 200, first_revoke.text
    assert_replayed(first_revoke, http.post(revoke, headers=revoking))
    second = answers[0].json()["id"]
    assert_refused_as_reused(http.post(f"{url}/{second}/revoke", headers=revoking))
    by_id = {item["id"]: item for item in http.get(url, headers=auth).json()["items"]}
    assert by_id[second]["revokedAt"] is None


# -- erasure --------------------------------------------------------------------------------


def test_a_replayed_erase_brings_nothing_back_and_keeps_counts_only(
    http: httpx.Client, store: Store
) -> None:
    server, seeded = store
    guest = new_guest(http, make_link(http, seeded))
    session_id = guest_session(http, seeded, guest["token"], complete=True)
    url = f"/v1/projects/{seeded.project_id}/guests/{guest['guestId']}"
    headers = keyed(seeded.headers(seeded.owner), new_key())
    first = http.delete(url, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "guestId": guest["guestId"],
        "sessions": 1,
        "shareLinks": 0,
        "tokens": 1,
    }
    again = http.delete(url, headers=headers)
    assert_replayed(first, again)
    assert session_id not in again.text
    session_url = f"/v1/projects/{seeded.project_id}/sessions/{session_id}"
    assert http.get(session_url, headers=seeded.headers(seeded.owner)).status_code == 404
    assert http.get("/v1/me/sessions", headers=seeded.headers(guest["token"])).status_code == 401
    # Another guest under the same key is another request; unkeyed, a second erase is a 404.
    other = new_guest(http, make_link(http, seeded))
    other_url = f"/v1/projects/{seeded.project_id}/guests/{other['guestId']}"
    assert_refused_as_reused(http.delete(other_url, headers=headers))
    assert http.get("/v1/me/sessions", headers=seeded.headers(other["token"])).status_code == 200
    assert http.delete(url, headers=seeded.headers(seeded.owner)).status_code == 404

    concurrent = keyed(seeded.headers(seeded.owner), new_key())
    answers = at_once(
        6, lambda client: client.delete(server.base_url + other_url, headers=concurrent)
    )
    assert_applied_once(answers, 200)
    assert answers[0].json()["tokens"] == 1


def test_a_guest_erasing_itself_twice_at_once_is_erased_once(
    http: httpx.Client, store: Store
) -> None:
    server, seeded = store
    guest = new_guest(http, make_link(http, seeded))
    guest_session(http, seeded, guest["token"], complete=False)
    headers = keyed(seeded.headers(guest["token"]), new_key())
    answers = at_once(4, lambda client: client.delete(f"{server.base_url}/v1/me", headers=headers))
    # Whoever came after the erase committed either finds the kept answer, or (its token gone)
    # is refused as unauthenticated: never a second erasure, never a 404.
    statuses = sorted(response.status_code for response in answers)
    assert statuses[0] == 200
    assert set(statuses) <= {200, 401}
    first = [r for r in answers if r.status_code == 200 and "idempotency-replayed" not in r.headers]
    assert len(first) == 1
    assert first[0].json()["sessions"] == 1
    for response in answers:
        if response.status_code == 200:
            assert response.json() == first[0].json()
    assert http.get("/v1/me/sessions", headers=seeded.headers(guest["token"])).status_code == 401


def test_erasing_a_guest_deletes_every_kept_answer_that_told_of_it(
    http: httpx.Client, store: Store
) -> None:
    seeded = store[1]
    link = make_link(http, seeded)
    join_key = {"Idempotency-Key": new_key()}
    joined = http.post(f"/v1/join/{link['code']}", headers=join_key)
    assert joined.status_code == 201, joined.text
    guest = joined.json()
    session_id = guest_session(http, seeded, guest["token"], complete=True)
    shares = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/shares"
    share_key = keyed(seeded.headers(seeded.owner), new_key())
    assert http.post(shares, json={}, headers=share_key).status_code == 201
    erase = f"/v1/projects/{seeded.project_id}/guests/{guest['guestId']}"
    assert http.delete(erase, headers=seeded.headers(seeded.owner)).status_code == 200
    # The owner's share of the erased session was kept with that session: it went with it.
    again = http.post(shares, json={}, headers=share_key)
    assert again.status_code == 404
    assert "idempotency-replayed" not in again.headers
    # The join's answer held the erased guest's token: it went too, so the key is new again.
    rejoined = http.post(f"/v1/join/{link['code']}", headers=join_key)
    assert rejoined.status_code == 201
    assert "idempotency-replayed" not in rejoined.headers
    assert rejoined.json()["guestId"] != guest["guestId"]
    assert guest["token"] not in rejoined.text
    assert joined_count(http, seeded, link["id"]) == 2
