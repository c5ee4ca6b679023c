"""The rules of idempotency keys: which keys are valid, what makes two requests the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from session_runtime import Guest, Member, Role, System, ValidationError
from session_runtime.domain.idempotency import (
    IdempotencyClaim,
    IdempotencyRecord,
    RequestReplayed,
    StoredResponse,
    idempotency_caller,
    parse_idempotency_key,
    request_fingerprint,
    resolve_existing,
)

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "key", ["a", "~" * 255, "0f4e-UUID_like.key:1", '!"#$%&()*+,/;<=>?@[]^`{|}']
)
def test_visible_ascii_keys_of_1_to_255_characters_are_accepted(key: str) -> None:
    assert parse_idempotency_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\t", "é", "nul\x00", "\x7f"])
def test_other_keys_are_a_validation_error_at_the_header(key: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_idempotency_key(key)
    assert refused.value.details == [
        {"path": "Idempotency-Key", "message": refused.value.details[0]["message"]}
    ]


def test_no_header_is_no_key() -> None:
    assert parse_idempotency_key(None) is None


def test_the_fingerprint_covers_method_path_body_and_if_match() -> None:
    base = request_fingerprint("PATCH", "/v1/p/s", {"a": {"x": 1, "y": 2}}, None)
    assert base == request_fingerprint("patch", "/v1/p/s", {"a": {"y": 2, "x": 1}}, None)
    assert base != request_fingerprint("POST", "/v1/p/s", {"a": {"x": 1, "y": 2}}, None)
    assert base != request_fingerprint("PATCH", "/v1/p/t", {"a": {"x": 1, "y": 2}}, None)
    assert base != request_fingerprint("PATCH", "/v1/p/s", {"a": {"x": 1, "y": 3}}, None)
    assert base != request_fingerprint("PATCH", "/v1/p/s", {"a": {"x": 1, "y": 2}}, '"2"')
    assert request_fingerprint("POST", "/c", None, None) == request_fingerprint(
        "POST", "/c", {}, None
    )


def test_keys_are_scoped_to_the_token_or_guest() -> None:
    ada = Member(project_id="p", user="ada", role=Role.OWNER, token_id="t1")
    ada_elsewhere = Member(project_id="p", user="ada", role=Role.OWNER, token_id="t2")
    guest = Guest(project_id="p", token_id="g1")
    assert idempotency_caller(ada) == "token:t1"
    assert idempotency_caller(ada_elsewhere) == "token:t2"
    assert idempotency_caller(guest) == "guest:g1"
    assert idempotency_caller(System()) == "system:system"


def _claim(fingerprint: str) -> IdempotencyClaim[object]:
    return IdempotencyClaim(
        caller="c",
        key="k",
        fingerprint=fingerprint,
        render=lambda _: StoredResponse(200, (), b"{}"),
        now=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def _record(fingerprint: str, expires_at: datetime) -> IdempotencyRecord:
    return IdempotencyRecord(
        caller="c",
        key="k",
        fingerprint=fingerprint,
        response=StoredResponse(201, (("etag", '"1"'),), b'{"ok":1}'),
        project_id="p",
        session_id="s",
        created_at=NOW - timedelta(hours=1),
        expires_at=expires_at,
    )


def test_a_known_key_replays_an_unknown_or_expired_one_goes_on() -> None:
    resolve_existing(None, _claim("f"))
    resolve_existing(_record("f", expires_at=NOW), _claim("f"))  # expired at this instant
    with pytest.raises(RequestReplayed) as replay:
        resolve_existing(_record("f", expires_at=NOW + timedelta(seconds=1)), _claim("f"))
    assert replay.value.response.status == 201
    with pytest.raises(ValidationError):
        resolve_existing(_record("other", expires_at=NOW + timedelta(seconds=1)), _claim("f"))


def test_stored_headers_survive_their_json_form() -> None:
    response = StoredResponse(201, (("etag", '"1"'), ("location", "/v1/x")), b"")
    assert StoredResponse.headers_from_json(response.headers_json()) == response.headers
