"""What every operation shares: input parsing, and one record per operation for observers."""

from __future__ import annotations

from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    CompleteSessionInput,
    NotFoundError,
    OperationRecord,
    SessionService,
    ValidationError,
)
from session_runtime.operations import parse_input

from .factories import Catalog, NewSession


@pytest.fixture
def records(service: SessionService) -> list[OperationRecord]:
    seen: list[OperationRecord] = []
    service.observers.append(seen.append)
    return seen


async def test_every_operation_reports_its_action(
    service: SessionService,
    catalog: Catalog,
    new_session: NewSession,
    records: list[OperationRecord],
) -> None:
    session = await new_session()
    project_id = session.project_id
    await service.get_session(SYSTEM, project_id, session.id)
    await service.list_sessions(SYSTEM, project_id)
    await service.update_session_progress(SYSTEM, project_id, {"sessionId": session.id})
    subscription = await service.subscribe_session(SYSTEM, project_id, session.id)
    subscription.close()
    await service.complete_session(SYSTEM, project_id, session.id)
    other = await new_session()
    await service.abandon_session(SYSTEM, project_id, other.id)
    third = await new_session()
    await service.fail_session(SYSTEM, project_id, {"sessionId": third.id, "reason": "x"})

    assert [record.action for record in records] == [
        "create",
        "get",
        "list",
        "update",
        "subscribe",
        "complete",
        "create",
        "abandon",
        "create",
        "fail",
    ]
    assert {record.outcome for record in records} == {"ok"}
    assert all(record.error is None and record.seconds >= 0 for record in records)


async def test_a_failed_operation_reports_its_code_and_error(
    service: SessionService, catalog: Catalog, records: list[OperationRecord]
) -> None:
    with pytest.raises(NotFoundError) as not_found:
        await service.get_session(SYSTEM, catalog.project_id, "missing")
    with pytest.raises(ValidationError) as invalid:
        await service.create_session(SYSTEM, catalog.session_input(mode="live"))

    assert [(r.action, r.outcome) for r in records] == [
        ("get", "NOT_FOUND"),
        ("create", "VALIDATION_ERROR"),
    ]
    assert records[0].error is not_found.value
    assert records[1].error is invalid.value


def test_an_error_of_another_kind_is_internal() -> None:
    assert OperationRecord("update", 0.1, RuntimeError("bug")).outcome == "INTERNAL"
    assert OperationRecord("update", 0.1).outcome == "ok"


def test_parse_input_accepts_the_model_itself() -> None:
    model = CompleteSessionInput(session_id="s1")
    assert parse_input(CompleteSessionInput, model) is model
    assert parse_input(CompleteSessionInput, {"sessionId": "s1"}) == model


@pytest.mark.parametrize("data", [None, "s1", 1, ["sessionId", "s1"]])
def test_parse_input_refuses_what_is_not_an_object(data: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_input(CompleteSessionInput, data)
    assert caught.value.details == [{"path": "$", "message": "the input must be an object"}]


def test_parse_input_lists_every_problem_by_path() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_input(CompleteSessionInput, {"sessionId": "", "extra": 1})
    assert sorted(problem["path"] for problem in caught.value.details) == ["extra", "sessionId"]
    assert "sessionId" in caught.value.message
