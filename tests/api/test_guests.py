"""Guests over HTTP on a real server: join links and their QR codes, joining with no token,
resume, share pages, erasure ending live streams, and the join limits per address."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed
from ..support.sse import events

PORTRAIT = {"mediaAssetId": "m-1", "url": "https://cdn.example.com/portrait.jpg"}


def make_link(http: httpx.Client, seeded: Seed, **body: Any) -> dict[str, Any]:
    response = http.post(
        f"/v1/projects/{seeded.project_id}/links", json=body, headers=seeded.headers(seeded.owner)
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def join(http: httpx.Client, code: str, **headers: str) -> httpx.Response:
    return http.post(f"/v1/join/{code}", headers=headers)


def joined(http: httpx.Client, code: str) -> dict[str, Any]:
    response = join(http, code)
    assert response.status_code == 201, response.text
    guest: dict[str, Any] = response.json()
    return guest


def run_session(http: httpx.Client, seeded: Seed, token: str, *, complete: bool = True) -> str:
    auth = seeded.headers(token)
    base = f"/v1/projects/{seeded.project_id}/sessions"
    created = http.post(base, json=seeded.session_body(), headers=auth)
    assert created.status_code == 201, created.text
    session_id: str = created.json()["sessionId"]
    patch = {"currentStepIndex": 1, "inputs": {"email": "ada@example.com"}}
    assert http.patch(f"{base}/{session_id}", json=patch, headers=auth).status_code == 200
    patch = {"outputs": {"portrait": PORTRAIT}}
    assert http.patch(f"{base}/{session_id}", json=patch, headers=auth).status_code == 200
    if complete:
        assert http.post(f"{base}/{session_id}/complete", headers=auth).status_code == 200
    return session_id


def test_a_guest_joins_resumes_shares_and_erases_itself(
    server: RunningServer, seeded: Seed, http: httpx.Client
) -> None:
    link = make_link(http, seeded, eventId=seeded.event_id, label="Entrance")
    assert link["url"] == f"{server.base_url}/join/{link['code']}"
    guest = joined(http, link["code"])
    assert set(guest) == {"token", "guestId", "projectId", "eventId", "expiresAt"}
    assert (guest["projectId"], guest["eventId"]) == (seeded.project_id, seeded.event_id)
    assert guest["guestId"].startswith("guest:")
    auth = seeded.headers(guest["token"])

    session_id = run_session(http, seeded, guest["token"], complete=False)
    session = http.get(f"/v1/projects/{seeded.project_id}/sessions/{session_id}", headers=auth)
    assert session.json()["createdBy"] == guest["guestId"]
    mine = http.get("/v1/me/sessions", headers=auth)
    assert [item["id"] for item in mine.json()["items"]] == [session_id]
    http.post(f"/v1/projects/{seeded.project_id}/sessions/{session_id}/complete", headers=auth)

    shares = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/shares"
    created = http.post(shares, json={"expiresInSeconds": 3600}, headers=auth)
    assert created.status_code == 201, created.text
    share = created.json()
    assert share["url"].startswith(f"{server.base_url}/share/")
    page = http.get(share["url"])
    assert page.status_code == 200
    assert PORTRAIT["url"] in page.text and "portrait" in page.text
    assert "ada@example.com" not in page.text and "email" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    as_json = http.get(share["jsonUrl"]).json()
    assert set(as_json) == {"outputs", "completedAt", "expiresAt"}
    assert as_json["outputs"] == {"portrait": PORTRAIT}
    listed = http.get(shares, headers=auth).json()["items"]
    assert [item["id"] for item in listed] == [share["id"]] and "url" not in listed[0]

    erased = http.delete("/v1/me", headers=auth)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "guestId": guest["guestId"],
        "sessions": 1,
        "shareLinks": 1,
        "tokens": 1,
    }
    assert http.get("/v1/me/sessions", headers=auth).status_code == 401
    assert http.get(share["jsonUrl"]).status_code == 404
    assert http.get(share["url"]).status_code == 404
    owner = seeded.headers(seeded.owner)
    gone = http.get(f"/v1/projects/{seeded.project_id}/sessions/{session_id}", headers=owner)
    assert gone.status_code == 404
    [listed_link] = [
        item
        for item in http.get(f"/v1/projects/{seeded.project_id}/links", headers=owner).json()[
            "items"
        ]
        if item["id"] == link["id"]
    ]
    assert listed_link["joinedCount"] == 1


def test_unknown_revoked_and_full_links_are_refused_clearly(
    seeded: Seed, http: httpx.Client
) -> None:
    unknown = join(http, "this-code-does-not-exist-000000")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
    assert "no join link has this code" in unknown.json()["error"]["message"]

    full = make_link(http, seeded, maxGuests=1)
    joined(http, full["code"])
    refused = join(http, full["code"])
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert refused.json()["error"]["details"]["reason"] == "full"

    revoked = make_link(http, seeded)
    guest = joined(http, revoked["code"])
    answer = http.post(
        f"/v1/projects/{seeded.project_id}/links/{revoked['id']}/revoke",
        headers=seeded.headers(seeded.owner),
    )
    assert answer.status_code == 200 and answer.json()["revokedAt"] is not None
    refused = join(http, revoked["code"])
    assert refused.status_code == 409
    assert "revoked" in refused.json()["error"]["message"]
    # Who joined before the revocation goes on.
    run_session(http, seeded, guest["token"])


def test_bad_link_input_is_refused_and_writes_nothing(seeded: Seed, http: httpx.Client) -> None:
    owner = seeded.headers(seeded.owner)
    path = f"/v1/projects/{seeded.project_id}/links"
    before = len(http.get(path, headers=owner).json()["items"])
    for body in ({"maxGuests": 0}, {"expiresInSeconds": "soon"}, {"eventId": 5}, [1]):
        response = http.post(path, json=body, headers=owner)
        assert response.status_code == 422, response.text
    missing = http.post(path, json={"eventId": "nope"}, headers=owner)
    assert missing.status_code == 404 and missing.json()["error"]["details"]["resource"] == "event"
    assert len(http.get(path, headers=owner).json()["items"]) == before


def test_a_link_has_a_qr_code_as_svg_and_png(seeded: Seed, http: httpx.Client) -> None:
    link = make_link(http, seeded)
    svg = http.get(link["qrSvgUrl"])
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.lstrip().startswith("<svg")
    png = http.get(link["qrPngUrl"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert "attachment" in png.headers["content-disposition"]
    assert http.get("/v1/join/unknown-code/qr.svg").status_code == 404
    assert http.get(f"/v1/join/{link['code']}/qr.gif").status_code == 422


def test_the_guest_page_is_served_under_the_dashboard_policy(
    seeded: Seed, http: httpx.Client
) -> None:
    link = make_link(http, seeded)
    page = http.get(f"/join/{link['code']}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert link["code"] not in page.text  # the page reads its code from its own address


def test_erasing_a_guest_ends_its_streams_with_a_final_event(
    server: RunningServer, seeded: Seed, http: httpx.Client
) -> None:
    guest = joined(http, make_link(http, seeded)["code"])
    session_id = run_session(http, seeded, guest["token"], complete=False)
    path = f"/v1/projects/{seeded.project_id}/sessions/{session_id}/events"
    heard: list[tuple[str, str]] = []
    opened = threading.Event()

    def follow() -> None:
        with (
            httpx.Client(base_url=server.base_url, timeout=10) as client,
            client.stream("GET", path, headers=seeded.headers(seeded.owner)) as response,
        ):
            for event in events(response):
                if event.event == "comment":
                    continue
                heard.append((event.event, event.data))
                opened.set()

    reader = threading.Thread(target=follow)
    reader.start()
    with connect(server.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": seeded.owner}))
        assert json.loads(ws.recv(timeout=10))["type"] == "authenticated"
        ws.send(json.dumps({"type": "subscribe", "id": "one", "projectId": seeded.project_id,
                            "sessionId": session_id}))  # fmt: skip
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        ws.send(json.dumps({"type": "subscribe", "id": "all", "projectId": seeded.project_id}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        assert opened.wait(10)

        erased = http.delete(
            f"/v1/projects/{seeded.project_id}/guests/{guest['guestId']}",
            headers=seeded.headers(seeded.owner),
        )
        assert erased.status_code == 200, erased.text
        assert erased.json()["sessions"] == 1
        messages = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
        assert {(m["type"], m["id"], m["sessionId"]) for m in messages} == {
            ("erased", "one", session_id),
            ("erased", "all", session_id),
        }
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert heard[0][0] == "snapshot"
    assert heard[-1] == ("erased", json.dumps({"sessionId": session_id}, separators=(",", ":")))


# -- limits per client address --------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Seed]]:
    settings = Settings(
        database_path=tmp_path_factory.mktemp("limited") / "sessions.db",
        joins_per_address_per_minute=0.01,
        join_burst_per_address=3,
    )
    with running_server(settings) as running:
        yield running, running.call(seed(running.service))


@pytest.fixture(scope="module")
def behind_proxy(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, Seed]]:
    folder: Path = tmp_path_factory.mktemp("proxied")
    settings = Settings(
        database_path=folder / "sessions.db",
        joins_per_address_per_minute=0.01,
        join_burst_per_address=2,
        trusted_proxies="127.0.0.1",  # type: ignore[arg-type]
    )
    with running_server(settings) as running:
        yield running, running.call(seed(running.service))


def test_one_address_joins_at_most_its_burst_then_is_told_when_to_retry(
    limited: tuple[RunningServer, Seed],
) -> None:
    server, seeded = limited
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        code = make_link(http, seeded)["code"]
        for _ in range(3):
            joined(http, code)
        # A forged X-Forwarded-For from a peer that is no trusted proxy changes nothing.
        refused = join(http, code, **{"X-Forwarded-For": "203.0.113.50"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RESOURCE_EXHAUSTED"
        assert "from this address" in refused.json()["error"]["message"]
        assert int(refused.headers["retry-after"]) >= 1
        [link] = http.get(
            f"/v1/projects/{seeded.project_id}/links", headers=seeded.headers(seeded.owner)
        ).json()["items"]
        assert link["joinedCount"] == 3


def test_behind_a_trusted_proxy_each_forwarded_address_counts_apart(
    behind_proxy: tuple[RunningServer, Seed],
) -> None:
    server, seeded = behind_proxy
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        code = make_link(http, seeded)["code"]
        for address in ("198.51.100.1", "198.51.100.2"):
            for _ in range(2):
                response = join(http, code, **{"X-Forwarded-For": f"{address}, 127.0.0.1"})
                assert response.status_code == 201, response.text
            assert join(http, code, **{"X-Forwarded-For": address}).status_code == 429
        assert join(http, code, **{"X-Forwarded-For": "198.51.100.3"}).status_code == 201
