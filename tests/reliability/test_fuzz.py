"""Hostile request bodies, sent as raw bytes to a real server on 127.0.0.1, on SQLite and on
PostgreSQL.

Hypothesis draws, for create, PATCH, complete, abandon and fail, bodies of every kind a broken
or malicious client sends: deep nesting, huge strings, lone surrogates and other unicode edge
cases, NaN and Infinity, wrong types, duplicate keys, invalid UTF-8, bodies over the cap. Each
kind says what the answer must be. Whatever the body:

- never a 5xx;
- a refusal has the right status and code, in the one error body;
- a refused request stores nothing: the session's version and content are unchanged (for
  create: no session appears);
- an accepted one stores exactly what the answer shows, one version on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_runtime import SessionRuntime
from session_runtime.api import create_app
from session_runtime.settings import Settings

from ..support.postgres import PostgresDatabase
from ..support.server import RunningServer, Seed, running_server, seed

MAX_BODY_BYTES = 1_536 * 1024
"""Above the 1 MiB session limit, so that both the session limit and the body cap are met."""
EXAMPLES = 400
OPERATIONS = ("create", "update", "complete", "abandon", "fail")
CODES = {413: "RESOURCE_EXHAUSTED", 422: "VALIDATION_ERROR"}
ACCEPTED = 0
"""``Case.status`` for a body that must be accepted."""


@dataclass(frozen=True)
class Target:
    server: RunningServer
    seeded: Seed


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """A server on each store, seeded through a runtime of its own before it starts."""
    folder: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(
        database_path=folder / "sessions.db",
        max_body_bytes=MAX_BODY_BYTES,
        rate_limit_per_second=0,  # the limits have tests of their own
    )

    def runtime() -> SessionRuntime:
        if request.param == "sqlite":
            return SessionRuntime.sqlite(settings_.database_path)
        return SessionRuntime.postgres(database.dsn, schema=schema)

    if request.param == "postgres":
        database: PostgresDatabase = request.getfixturevalue("postgres")
        schema = database.new_schema()

    async def seeded() -> Seed:
        async with runtime() as opened:
            return await seed(opened.service)

    seed_ = asyncio.run(seeded())
    with running_server(settings_, app=create_app(settings_, runtime())) as running:
        yield Target(running, seed_)


@pytest.fixture(scope="module")
def seeded(target: Target) -> Seed:
    return target.seeded


@pytest.fixture(scope="module")
def http(target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.server.base_url, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Case:
    """One request: the operation, the raw body, and the status it must get (0: a 2xx)."""

    operation: str
    kind: str
    body: bytes
    status: int

    def __repr__(self) -> str:  # hypothesis prints the falsifying case: keep it readable
        shown = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return f"Case({self.operation}, {self.kind}, {shown!r}, expect {self.status})"


# -- the bodies ------------------------------------------------------------------------------

# The create fields are filled in by the test (they name the seeded catalog): `@EVENT@` and
# `@EXPERIENCE@` stand for them.
_VALID = {
    "create": {
        "eventId": "@EVENT@",
        "experienceId": "@EXPERIENCE@",
        "mode": "guest",
        "configSource": "published",
    },
    "update": {"currentStepIndex": 1, "inputs": {"answer": "yes"}},
    "complete": {},
    "abandon": {"reason": "left"},
    "fail": {"reason": "camera lost"},
}
# A field of each operation whose value the invalid kinds replace.
_FIELD = {
    "create": "mode",
    "update": "currentStepIndex",
    "complete": "sessionId",
    "abandon": "reason",
    "fail": "reason",
}
_WRONG_VALUES = [
    "-1", "1.5", "true", "null", "[]", "{}", '"1"', "9223372036854775808", '""', "[[]]",
    '{"a": 1}', '"guest "', '"GUEST"', "-0.0", "1e308",
]  # fmt: skip
_UNICODE_EDGES = [
    "😀", "\u200b", "\u202e", "\ufeff", "\uffff", "\U0010ffff", "e\u0301", "ß", "İ", "\u00a0",
    "\t\n\r", "\\", '"', "\u2028", "日本語",
]  # fmt: skip


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _with_raw(operation: str, raw_value: bytes) -> bytes:
    """The valid body of ``operation`` with its field set to a raw JSON fragment."""
    body = dict(_VALID[operation])
    body[_FIELD[operation]] = "@RAW@"
    return _json(body).replace(b'"@RAW@"', raw_value)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    operation = draw(st.sampled_from(OPERATIONS))
    kind = draw(
        st.sampled_from(
            [
                "deep_nesting", "huge_string", "over_limit", "lone_surrogate", "nan_infinity",
                "wrong_type", "duplicate_last_wrong", "duplicate_last_valid", "invalid_utf8",
                "not_an_object", "truncated", "unknown_field", "unicode_edges", "nul",
            ]
        )
    )  # fmt: skip
    valid = _json(_VALID[operation])
    if kind == "deep_nesting":
        depth = draw(st.integers(21, 5000))
        nested = b'{"a":' * depth + b"1" + b"}" * depth
        if operation == "update":
            return Case(operation, kind, b'{"inputs":' + nested + b"}", 422)
        return Case(operation, kind, _with_raw(operation, nested), 422)
    if kind == "huge_string":
        extra = draw(st.integers(0, 4096))
        if operation == "update":
            text = "x" * (1024 * 1024 + extra)
            return Case(operation, kind, _json({"inputs": {"big": text}}), 413)
        # Every other string field is short: an id at most 128, a reason at most 500.
        huge = _json("y" * (600 + extra * 100))
        return Case(operation, kind, _with_raw(operation, huge), 422)
    if kind == "over_limit":
        padding = "z" * (MAX_BODY_BYTES + draw(st.integers(1, 4096)))
        return Case(operation, kind, _json({**_VALID[operation], "padding": padding}), 413)
    if kind == "lone_surrogate":
        escape = draw(st.sampled_from([b"\\ud800", b"\\udfff", b"\\udbff\\u0041", b"x\\udc00"]))
        if operation == "update" and draw(st.booleans()):
            return Case(operation, kind, b'{"inputs": {"' + escape + b'": 1}}', 422)
        return Case(operation, kind, _with_raw(operation, b'"' + escape + b'"'), 422)
    if kind == "nan_infinity":
        token = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"]))
        if operation == "update" and draw(st.booleans()):
            return Case(operation, kind, b'{"inputs": {"n": ' + token + b"}}", 422)
        return Case(operation, kind, _with_raw(operation, token), 422)
    if kind == "wrong_type":
        raw = draw(st.sampled_from(_WRONG_VALUES)).encode()
        if operation == "update" and draw(st.booleans()):
            # `inputs` must be an object; `outputs` must hold media references.
            bad = draw(st.sampled_from([b'{"inputs": ', b'{"outputs": ', b'{"outputs": {"p": ']))
            tail = b"}}" if bad.endswith(b'{"p": ') else b"}"
            if raw.startswith(b"{") and not bad.endswith(b'{"p": '):
                raw = b"[" + raw + b"]"  # an object would be valid there
            if raw == b"null" and not bad.endswith(b'{"p": '):
                raw = b"7"  # null inputs or outputs mean "unchanged"
            return Case(operation, kind, bad + raw + tail, 422)
        if operation in ("abandon", "fail") and raw.startswith(b'"') and raw != b'""':
            raw = b"7"  # any non-empty string is a valid reason
        if raw == b"null" and operation in ("update", "abandon"):
            raw = b"-1"  # a null step index means "unchanged"; a null reason is no reason
        return Case(operation, kind, _with_raw(operation, raw), 422)
    if kind == "duplicate_last_wrong":
        # JSON objects with a repeated key: the last one counts, as in every common parser.
        if operation == "complete":
            return Case(operation, kind, b'{"sessionId": "x", "sessionId": []}', 422)
        repeated = b', "' + _FIELD[operation].encode() + b'": []}'
        return Case(operation, kind, valid[:-1] + repeated, 422)
    if kind == "duplicate_last_valid":
        if operation == "complete":
            return Case(operation, kind, b"{}", ACCEPTED)
        field = _FIELD[operation].encode()
        return Case(operation, kind, b'{"' + field + b'": [], ' + valid[1:], ACCEPTED)
    if kind == "invalid_utf8":
        garbage = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        if operation == "update":
            return Case(operation, kind, b'{"inputs": {"k": "' + garbage + b'"}}', 422)
        return Case(operation, kind, _with_raw(operation, b'"' + garbage + b'"'), 422)
    if kind == "not_an_object":
        raw = draw(st.sampled_from([b"[]", b'"text"', b"1", b"null", b"true", b"[{}]"]))
        return Case(operation, kind, raw, 422)
    if kind == "truncated":
        cut = draw(st.integers(1, max(1, len(valid) - 1)))
        body = valid[:cut]
        return Case(operation, kind, body, 422 if body.strip() else ACCEPTED)
    if kind == "unknown_field":
        name = draw(st.sampled_from(["status", "version", "createdBy", "id", "updatedAt", "x"]))
        return Case(operation, kind, _json({**_VALID[operation], name: "active"}), 422)
    if kind == "nul":
        if operation == "update":
            where = draw(
                st.sampled_from(['{"inputs": {"a\\u0000": 1}}', '{"inputs": {"a": "\\u0000"}}'])
            )
            return Case(operation, kind, where.encode(), 422)
        if operation in ("abandon", "fail"):
            return Case(operation, kind, _with_raw(operation, b'"x\\u0000"'), 422)
        return Case(operation, kind, _with_raw(operation, b'"\\u0000"'), 422)
    # unicode_edges: valid text in keys and values is stored exactly as sent.
    texts = draw(st.lists(st.sampled_from(_UNICODE_EDGES), min_size=1, max_size=4))
    text = "".join(texts)
    if operation == "update":
        return Case(operation, kind, _json({"inputs": {text: text}}), ACCEPTED)
    if operation in ("abandon", "fail"):
        return Case(operation, kind, _json({"reason": text}), ACCEPTED)
    return Case(operation, kind, valid, ACCEPTED)


# -- the requests ----------------------------------------------------------------------------


def _send(http: httpx.Client, seeded: Seed, case: Case) -> tuple[httpx.Response, Any, Any]:
    """Send ``case``; return the answer and what was stored before and after."""
    headers = {**seeded.headers(seeded.owner), "Content-Type": "application/json"}
    if case.operation == "create":
        # The other project (its owner is `stranger`) holds only the sessions made here.
        headers = {**seeded.headers(seeded.stranger), "Content-Type": "application/json"}
        base = f"/v1/projects/{seeded.other_project_id}/sessions"
        body = case.body.replace(b"@EVENT@", seeded.other_event_in_other_project.encode())
        body = body.replace(b"@EXPERIENCE@", seeded.other_experience_in_other_project.encode())

        def listed() -> Any:
            page = http.get(base, params={"limit": 500}, headers=headers)
            assert page.status_code == 200, page.text
            return page.json()["items"]

        before = listed()
        response = http.post(base, content=body, headers=headers)
        return response, before, listed()
    created = http.post(
        f"/v1/projects/{seeded.project_id}/sessions",
        json=seeded.session_body(),
        headers=seeded.headers(seeded.owner),
    )
    assert created.status_code == 201, created.text
    url = f"/v1/projects/{seeded.project_id}/sessions/{created.json()['sessionId']}"
    before = http.get(url, headers=headers).json()
    if case.operation == "update":
        response = http.patch(url, content=case.body, headers=headers)
    else:
        response = http.post(f"{url}/{case.operation}", content=case.body, headers=headers)
    return response, before, http.get(url, headers=headers).json()


def _check_refusal(case: Case, response: httpx.Response, before: Any, after: Any) -> None:
    assert response.status_code in CODES, (case, response.status_code, response.text[:500])
    assert response.status_code == case.status, (case, response.text[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == CODES[response.status_code], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert after == before, f"{case}: a refused request changed what is stored"


def _check_acceptance(case: Case, response: httpx.Response, before: Any, after: Any) -> None:
    assert 200 <= response.status_code < 300, (case, response.status_code, response.text[:500])
    answer = response.json()
    if case.operation == "create":
        assert len(after) == len(before) + 1
        assert after[0] == answer["session"]
        return
    assert after == answer, f"{case}: the answer is not what was stored"
    assert after["version"] == before["version"] + 1
    if case.kind == "unicode_edges" and case.operation == "update":
        assert after["inputs"] == {**before["inputs"], **json.loads(case.body)["inputs"]}
    if case.kind == "unicode_edges" and case.operation in ("abandon", "fail"):
        assert after["endReason"] == json.loads(case.body)["reason"]


def test_hostile_bodies_are_refused_cleanly_and_store_nothing(
    http: httpx.Client, seeded: Seed
) -> None:
    seen: dict[tuple[str, int], int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=cases())
    def run(case: Case) -> None:
        response, before, after = _send(http, seeded, case)
        assert response.status_code < 500, (case, response.text[:500])
        key = (case.kind, response.status_code)
        seen[key] = seen.get(key, 0) + 1
        if case.status == ACCEPTED:
            _check_acceptance(case, response, before, after)
        else:
            _check_refusal(case, response, before, after)

    run()
    print(f"{sum(seen.values())} requests: {dict(sorted(seen.items()))}")
    kinds = {kind for kind, _ in seen}
    assert len(kinds) >= 12, kinds  # the draw reached nearly every kind of body


UNREADABLE_IF_MATCH = ["²", "٣", "abc", "-1", "1.5", 'W/"x"', "0x1", "", "1 2", "1e0", "\uff19"]
"""Not a version this server issued: each gets 409, as a version mismatch does."""


def test_unreadable_if_match_values_are_refused_and_store_nothing(
    http: httpx.Client, seeded: Seed
) -> None:
    headers = seeded.headers(seeded.owner)
    created = http.post(
        f"/v1/projects/{seeded.project_id}/sessions", json=seeded.session_body(), headers=headers
    )
    url = f"/v1/projects/{seeded.project_id}/sessions/{created.json()['sessionId']}"
    before = http.get(url, headers=headers).json()
    for value in UNREADABLE_IF_MATCH:
        if_match = {**headers, "If-Match": value.encode()}
        for method, path in (("PATCH", url), ("POST", f"{url}/complete")):
            response = http.request(method, path, json={}, headers=if_match)
            assert response.status_code == 409, (value, response.text)
            assert response.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert http.get(url, headers=headers).json() == before
