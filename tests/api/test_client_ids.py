"""A client-chosen ``sessionId`` over HTTP: 201 the first time, 200 when repeated, 409 for
anyone else, 422 when it is not a usable id."""

from __future__ import annotations

import secrets

import httpx

from ..support.server import Seed


def chosen_id() -> str:
    return "s" + secrets.token_urlsafe(16)


def test_a_repeated_create_answers_200_with_the_session(http: httpx.Client, seeded: Seed) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    body = seeded.session_body(sessionId=chosen_id())
    headers = seeded.headers(seeded.guest)
    first = http.post(url, json=body, headers=headers)
    assert first.status_code == 201
    assert first.json()["sessionId"] == body["sessionId"]
    assert first.headers["location"] == f"{url}/{body['sessionId']}"
    again = http.post(url, json=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["etag"] == '"1"'
    assert again.headers["location"] == first.headers["location"]


def test_a_taken_id_is_409_for_anyone_else(http: httpx.Client, seeded: Seed) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    body = seeded.session_body(sessionId=chosen_id())
    assert http.post(url, json=body, headers=seeded.headers(seeded.guest)).status_code == 201
    refused = http.post(url, json=body, headers=seeded.headers(seeded.other_guest))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "FAILED_PRECONDITION"
    assert "already taken" in error["message"]
    assert "guest:" not in refused.text and "createdBy" not in refused.text


def test_an_id_too_short_is_422(http: httpx.Client, seeded: Seed) -> None:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    refused = http.post(
        url, json=seeded.session_body(sessionId="short"), headers=seeded.headers(seeded.owner)
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["path"] == "sessionId"


def test_openapi_documents_the_chosen_id_and_the_200(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    body = document["components"]["schemas"]["CreateSessionBody"]
    assert body["properties"]["sessionId"]["anyOf"][0]["minLength"] == 22
    create = document["paths"]["/v1/projects/{project_id}/sessions"]["post"]
    assert {"200", "201"} <= set(create["responses"])
