"""The session document and the input of every operation, as the contract's schemas say."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from session_runtime import (
    AbandonSessionInput,
    ConfigSource,
    CreateSessionInput,
    FailSessionInput,
    ListSessionsInput,
    Mode,
    Session,
    SessionStatus,
    UpdateSessionProgressInput,
)

MakeSession = Callable[..., Session]

SESSION_JSON_FIELDS = {
    "id",
    "projectId",
    "eventId",
    "experienceId",
    "mode",
    "configSource",
    "status",
    "currentStepIndex",
    "inputs",
    "outputs",
    "createdBy",
    "createdAt",
    "updatedAt",
    "completedAt",
    "endReason",
    "version",
}

CREATE = {
    "projectId": "p1",
    "eventId": "e1",
    "experienceId": "x1",
    "mode": "guest",
    "configSource": "published",
}

PHOTO = {"mediaAssetId": "m1", "url": "https://cdn.example.com/p/1.jpg"}


# -- the session ------------------------------------------------------------------------------


def test_session_json_is_camel_case_with_every_field(make_session: MakeSession) -> None:
    document = make_session().to_json()
    assert set(document) == SESSION_JSON_FIELDS


def test_session_timestamps_are_iso_8601_utc_with_z(make_session: MakeSession) -> None:
    moment = datetime(2026, 1, 15, 9, 30, 1, 250_000, tzinfo=UTC)
    session = make_session(
        created_at=moment,
        updated_at=moment,
        completed_at=moment,
        status=SessionStatus.COMPLETED,
    )
    document = session.to_json()

    assert document["createdAt"] == "2026-01-15T09:30:01.250000Z"
    assert document["updatedAt"] == document["createdAt"]
    assert document["completedAt"] == document["createdAt"]


def test_session_json_values(make_session: MakeSession) -> None:
    session = make_session(
        inputs={"name": "Ada", "nested": {"list": [1, None]}},
        outputs={"photo": PHOTO},
        current_step_index=3,
        end_reason=None,
    )
    document = session.to_json()

    assert document["mode"] == "guest"
    assert document["configSource"] == "published"
    assert document["status"] == "active"
    assert document["currentStepIndex"] == 3
    assert document["inputs"] == {"name": "Ada", "nested": {"list": [1, None]}}
    assert document["outputs"] == {"photo": PHOTO}
    assert document["completedAt"] is None
    assert document["endReason"] is None
    assert document["version"] == 1


def test_session_round_trips_through_its_json(make_session: MakeSession) -> None:
    session = make_session(inputs={"a": [1, {"b": "c"}]}, outputs={"photo": PHOTO})
    assert Session.model_validate(session.to_json()) == session


def test_session_accepts_both_spellings(make_session: MakeSession) -> None:
    session = make_session()
    snake = session.model_dump()
    camel = session.model_dump(by_alias=True)
    assert "current_step_index" in snake
    assert "currentStepIndex" in camel
    assert Session.model_validate(snake) == Session.model_validate(camel) == session


def test_session_is_frozen(make_session: MakeSession) -> None:
    session = make_session()
    with pytest.raises(pydantic.ValidationError):
        session.version = 2  # type: ignore[misc]


def test_session_refuses_unknown_fields(make_session: MakeSession) -> None:
    document = make_session().to_json()
    with pytest.raises(pydantic.ValidationError):
        Session.model_validate({**document, "deletedAt": None})


@pytest.mark.parametrize(
    ("status", "is_final"),
    [
        (SessionStatus.ACTIVE, False),
        (SessionStatus.COMPLETED, True),
        (SessionStatus.ABANDONED, True),
        (SessionStatus.ERROR, True),
    ],
)
def test_session_is_final(make_session: MakeSession, status: SessionStatus, is_final: bool) -> None:
    assert make_session(status=status).is_final is is_final


def test_enums_are_the_contracts() -> None:
    assert [mode.value for mode in Mode] == ["preview", "guest"]
    assert [source.value for source in ConfigSource] == ["draft", "published"]


# -- create -----------------------------------------------------------------------------------


def test_create_input_parses_the_contracts_fields() -> None:
    parsed = CreateSessionInput.model_validate(CREATE)
    assert parsed.project_id == "p1"
    assert parsed.mode is Mode.GUEST
    assert parsed.config_source is ConfigSource.PUBLISHED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("projectId", ""),
        ("eventId", ""),
        ("experienceId", ""),
        ("projectId", "p" * 129),
        ("eventId", 7),
        ("experienceId", None),
        ("mode", "live"),
        ("mode", "GUEST"),
        ("configSource", "latest"),
        ("configSource", 1),
    ],
)
def test_create_input_refuses_bad_values(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        CreateSessionInput.model_validate({**CREATE, field: value})
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize("field", sorted(CREATE))
def test_create_input_requires_every_field(field: str) -> None:
    data = {key: value for key, value in CREATE.items() if key != field}
    with pytest.raises(pydantic.ValidationError):
        CreateSessionInput.model_validate(data)


@pytest.mark.parametrize("field", ["status", "createdAt", "version", "id", "createdBy"])
def test_create_input_refuses_fields_only_the_server_sets(field: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        CreateSessionInput.model_validate({**CREATE, field: "x"})


# -- update -----------------------------------------------------------------------------------


def update(**fields: Any) -> UpdateSessionProgressInput:
    return UpdateSessionProgressInput.model_validate({"sessionId": "s1", **fields})


def test_update_input_every_field_is_optional_but_the_session() -> None:
    parsed = update()
    assert parsed.current_step_index is None
    assert parsed.inputs is None
    assert parsed.outputs is None
    with pytest.raises(pydantic.ValidationError):
        UpdateSessionProgressInput.model_validate({})


@pytest.mark.parametrize("index", [0, 1, 2**31 - 1])
def test_current_step_index_accepts_non_negative_integers(index: int) -> None:
    assert update(currentStepIndex=index).current_step_index == index


@pytest.mark.parametrize("index", [-1, 2**31, 1.0, 1.5, True, False, "1"])
def test_current_step_index_refuses_everything_else(index: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        update(currentStepIndex=index)
    assert caught.value.errors()[0]["loc"] == ("currentStepIndex",)


@pytest.mark.parametrize("inputs", [[], "text", 1, [("a", 1)]])
def test_inputs_must_be_an_object(inputs: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        update(inputs=inputs)


def test_outputs_hold_media_references() -> None:
    assert update(outputs={"photo": PHOTO}).outputs == {"photo": PHOTO}


@pytest.mark.parametrize(
    "url",
    ["http://example.com/a.png", "https://cdn.example.com:8443/a/b?c=d#e", "https://[::1]/x"],
)
def test_media_urls_may_be_any_absolute_http_url(url: str) -> None:
    assert update(outputs={"photo": {"mediaAssetId": "m1", "url": url}}).outputs is not None


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/relative/path.png",
        "relative.png",
        "//cdn.example.com/a.png",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "http://",
        "https:///path-only",
        "https://cdn.example.com/a b.png",
        "https://cdn.example.com/a\n.png",
        "https://cdn.example.com/\x00",
    ],
)
def test_media_urls_must_be_absolute_http(url: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        update(outputs={"photo": {"mediaAssetId": "m1", "url": url}})
    assert caught.value.errors()[0]["loc"] == ("outputs", "photo", "url")


@pytest.mark.parametrize(
    "reference",
    [
        {"mediaAssetId": "m1"},
        {"url": PHOTO["url"]},
        {**PHOTO, "width": 640},
        {**PHOTO, "mediaAssetId": ""},
        {**PHOTO, "mediaAssetId": 1},
        "https://cdn.example.com/a.png",
        ["m1", PHOTO["url"]],
        None,
    ],
)
def test_outputs_refuse_anything_but_a_media_reference(reference: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        update(outputs={"photo": reference})
    assert caught.value.errors()[0]["loc"][:2] == ("outputs", "photo")


def test_update_input_refuses_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        update(status="completed")


# -- complete, abandon, fail, list -------------------------------------------------------------


def test_abandon_reason_is_optional_and_bounded() -> None:
    assert AbandonSessionInput.model_validate({"sessionId": "s1"}).reason is None
    reason = "x" * 500
    assert AbandonSessionInput.model_validate({"sessionId": "s1", "reason": reason}).reason
    with pytest.raises(pydantic.ValidationError):
        AbandonSessionInput.model_validate({"sessionId": "s1", "reason": reason + "x"})
    with pytest.raises(pydantic.ValidationError):
        AbandonSessionInput.model_validate({"sessionId": "s1", "reason": ""})


def test_fail_needs_a_reason() -> None:
    assert FailSessionInput.model_validate({"sessionId": "s1", "reason": "camera"}).reason
    with pytest.raises(pydantic.ValidationError):
        FailSessionInput.model_validate({"sessionId": "s1"})


def test_list_input_defaults() -> None:
    parsed = ListSessionsInput.model_validate({})
    assert parsed.limit == 50
    assert parsed.cursor is None
    assert parsed.status is None


@pytest.mark.parametrize("limit", [0, -1, 501, 2.0, "10", True])
def test_list_limit_is_1_to_500(limit: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        ListSessionsInput.model_validate({"limit": limit})


def test_list_filters_parse() -> None:
    parsed = ListSessionsInput.model_validate(
        {"eventId": "e1", "experienceId": "x1", "status": "completed", "mode": "preview"}
    )
    assert parsed.status is SessionStatus.COMPLETED
    assert parsed.mode is Mode.PREVIEW
    with pytest.raises(pydantic.ValidationError):
        ListSessionsInput.model_validate({"status": "finished"})
