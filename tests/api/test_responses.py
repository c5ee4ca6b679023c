"""The encoded-JSON cache: each app keeps its own, bounded in versions and in bytes."""

from __future__ import annotations

import json
from collections.abc import Callable

from session_runtime import Session
from session_runtime.api.app import create_app
from session_runtime.api.responses import SessionJson
from session_runtime.settings import Settings

MakeSession = Callable[..., Session]


def test_a_session_is_encoded_as_its_camel_case_document(make_session: MakeSession) -> None:
    session = make_session(current_step_index=2)

    document = json.loads(SessionJson()(session))

    assert document["currentStepIndex"] == 2
    assert document["projectId"] == session.project_id


def test_a_version_is_encoded_once_and_served_again(make_session: MakeSession) -> None:
    session_json = SessionJson()
    session = make_session()

    first = session_json(session)

    assert session_json(session) is first
    assert len(session_json) == 1


def test_the_cache_keeps_at_most_its_number_of_versions(make_session: MakeSession) -> None:
    session_json = SessionJson(max_versions=3)
    sessions = [make_session(version=version) for version in range(1, 6)]

    for session in sessions:
        session_json(session)

    assert len(session_json) == 3
    oldest = session_json(sessions[0])  # forgotten: encoded afresh, and kept again
    assert json.loads(oldest)["version"] == 1
    assert len(session_json) == 3


def test_the_cache_keeps_at_most_its_number_of_bytes(make_session: MakeSession) -> None:
    blob = "x" * 10_000
    session_json = SessionJson(max_bytes=25_000)

    for version in range(1, 11):
        session_json(make_session(version=version, inputs={"blob": blob}))

    assert 0 < session_json.size_in_bytes <= 25_000
    assert len(session_json) == 2


def test_a_document_larger_than_the_cache_is_served_but_not_kept(
    make_session: MakeSession,
) -> None:
    session_json = SessionJson(max_bytes=1_000)
    session = make_session(inputs={"blob": "x" * 5_000})

    assert json.loads(session_json(session))["inputs"]["blob"] == "x" * 5_000
    assert len(session_json) == 0


def test_each_app_owns_its_cache(tmp_path: object) -> None:
    first = create_app(Settings(database_path=f"{tmp_path}/one.db"))
    second = create_app(Settings(database_path=f"{tmp_path}/two.db"))

    assert isinstance(first.state.session_json, SessionJson)
    assert first.state.session_json is not second.state.session_json
