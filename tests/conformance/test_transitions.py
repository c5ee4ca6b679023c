"""The state machine through the service: complete, abandon, fail, and what a final session
refuses."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    AbandonSessionInput,
    CompleteSessionInput,
    FailedPreconditionError,
    NotFoundError,
    Session,
    SessionService,
    SessionStatus,
    ValidationError,
)

from ..factories import ManualClock, NewSession

Finish = Callable[[SessionService, Session], Awaitable[Session]]


async def complete(service: SessionService, session: Session) -> Session:
    return await service.complete_session(SYSTEM, session.project_id, session.id)


async def abandon(service: SessionService, session: Session) -> Session:
    return await service.abandon_session(
        SYSTEM, session.project_id, {"sessionId": session.id, "reason": "guest walked away"}
    )


async def fail(service: SessionService, session: Session) -> Session:
    return await service.fail_session(
        SYSTEM, session.project_id, {"sessionId": session.id, "reason": "camera unplugged"}
    )


FINISHES: dict[SessionStatus, Finish] = {
    SessionStatus.COMPLETED: complete,
    SessionStatus.ABANDONED: abandon,
    SessionStatus.ERROR: fail,
}
FINAL = list(FINISHES)


async def stored(service: SessionService, session: Session) -> Session:
    return await service.get_session(SYSTEM, session.project_id, session.id)


async def test_complete_sets_completed_at_to_the_write_time(
    service: SessionService, new_session: NewSession, clock: ManualClock
) -> None:
    session = await new_session()
    moment = clock.now

    completed = await complete(service, session)

    assert completed.status is SessionStatus.COMPLETED
    assert completed.completed_at == completed.updated_at == moment
    assert completed.end_reason is None
    assert completed.version == 2
    assert completed.created_at == session.created_at
    assert await stored(service, session) == completed
    document = completed.to_json()
    assert document["completedAt"] == document["updatedAt"]


async def test_abandon_records_why(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()

    abandoned = await abandon(service, session)

    assert abandoned.status is SessionStatus.ABANDONED
    assert abandoned.end_reason == "guest walked away"
    assert abandoned.completed_at is None
    assert abandoned.updated_at > session.updated_at
    assert abandoned.version == 2
    assert await stored(service, session) == abandoned


async def test_abandon_without_a_reason(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()

    abandoned = await service.abandon_session(SYSTEM, session.project_id, session.id)

    assert abandoned.status is SessionStatus.ABANDONED
    assert abandoned.end_reason is None


async def test_fail_records_why(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()

    failed = await fail(service, session)

    assert failed.status is SessionStatus.ERROR
    assert failed.end_reason == "camera unplugged"
    assert failed.completed_at is None
    assert failed.version == 2
    assert await stored(service, session) == failed


async def test_fail_needs_a_reason(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()
    for data in ({"sessionId": session.id}, {"sessionId": session.id, "reason": ""}):
        with pytest.raises(ValidationError) as caught:
            await service.fail_session(SYSTEM, session.project_id, data)
        assert "reason" in [problem["path"] for problem in caught.value.details]
    assert await stored(service, session) == session


async def test_a_reason_is_bounded(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()
    with pytest.raises(ValidationError):
        await service.abandon_session(
            SYSTEM, session.project_id, {"sessionId": session.id, "reason": "x" * 501}
        )
    assert await stored(service, session) == session


@pytest.mark.parametrize(
    "reference",
    ["id", "mapping", "model"],
)
async def test_a_session_may_be_named_in_any_form(
    service: SessionService, new_session: NewSession, reference: str
) -> None:
    session = await new_session()
    data: Any = {
        "id": session.id,
        "mapping": {"sessionId": session.id},
        "model": CompleteSessionInput(session_id=session.id),
    }[reference]

    completed = await service.complete_session(SYSTEM, session.project_id, data)

    assert completed.status is SessionStatus.COMPLETED


async def test_abandon_takes_its_model(service: SessionService, new_session: NewSession) -> None:
    session = await new_session()
    data = AbandonSessionInput(session_id=session.id, reason="timeout")
    abandoned = await service.abandon_session(SYSTEM, session.project_id, data)
    assert abandoned.end_reason == "timeout"


@pytest.mark.parametrize("status", FINAL)
async def test_a_final_session_refuses_progress(
    service: SessionService, new_session: NewSession, status: SessionStatus
) -> None:
    session = await FINISHES[status](service, await new_session())

    with pytest.raises(FailedPreconditionError) as caught:
        await service.update_session_progress(
            SYSTEM,
            session.project_id,
            {"sessionId": session.id, "currentStepIndex": 9, "inputs": {"late": True}},
        )

    assert caught.value.code == "FAILED_PRECONDITION"
    assert caught.value.details["status"] == status.value
    assert await stored(service, session) == session


@pytest.mark.parametrize("status", FINAL)
async def test_repeating_the_same_final_transition_is_a_no_op(
    service: SessionService, new_session: NewSession, status: SessionStatus
) -> None:
    finish = FINISHES[status]
    first = await finish(service, await new_session())

    again = await finish(service, first)
    and_again = await finish(service, first)

    assert again == and_again == first
    assert again.version == first.version == 2
    assert await stored(service, first) == first


async def test_repeating_abandon_keeps_the_first_reason(
    service: SessionService, new_session: NewSession
) -> None:
    first = await abandon(service, await new_session())
    again = await service.abandon_session(
        SYSTEM, first.project_id, {"sessionId": first.id, "reason": "another reason"}
    )
    assert again.end_reason == "guest walked away"
    assert again.version == first.version


@pytest.mark.parametrize(("current", "target"), list(itertools.permutations(FINAL, 2)))
async def test_any_other_transition_from_a_final_status_is_refused(
    service: SessionService, new_session: NewSession, current: SessionStatus, target: SessionStatus
) -> None:
    session = await FINISHES[current](service, await new_session())

    with pytest.raises(FailedPreconditionError) as caught:
        await FINISHES[target](service, session)

    assert caught.value.details == {"status": current.value, "requested": target.value}
    assert await stored(service, session) == session


@pytest.mark.parametrize("status", FINAL)
async def test_a_version_mismatch_refuses_the_transition(
    service: SessionService, new_session: NewSession, status: SessionStatus
) -> None:
    session = await new_session()
    await service.update_session_progress(
        SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": 1}
    )
    before = await stored(service, session)

    async def call(version: int) -> Session:
        if status is SessionStatus.COMPLETED:
            return await service.complete_session(
                SYSTEM, session.project_id, session.id, expected_version=version
            )
        if status is SessionStatus.ABANDONED:
            return await service.abandon_session(
                SYSTEM, session.project_id, session.id, expected_version=version
            )
        return await service.fail_session(
            SYSTEM,
            session.project_id,
            {"sessionId": session.id, "reason": "x"},
            expected_version=version,
        )

    with pytest.raises(FailedPreconditionError) as caught:
        await call(1)
    assert caught.value.details == {"version": 2, "expected": 1}
    assert await stored(service, session) == before

    finished = await call(2)
    assert finished.status is status
    assert finished.version == 3


@pytest.mark.parametrize("status", FINAL)
async def test_a_missing_session_cannot_be_finished(
    service: SessionService, new_session: NewSession, status: SessionStatus
) -> None:
    session = await new_session()
    missing = session.model_copy(update={"id": "missing"})
    with pytest.raises(NotFoundError) as caught:
        await FINISHES[status](service, missing)
    assert caught.value.details["resource"] == "session"


@pytest.mark.parametrize("status", FINAL)
async def test_a_final_session_stays_readable(
    service: SessionService, new_session: NewSession, status: SessionStatus
) -> None:
    session = await new_session()
    await service.update_session_progress(
        SYSTEM, session.project_id, {"sessionId": session.id, "inputs": {"kept": [1, 2]}}
    )
    finished = await FINISHES[status](service, session)

    kept = await stored(service, session)
    assert kept == finished
    assert kept.inputs == {"kept": [1, 2]}
    page = await service.list_sessions(SYSTEM, session.project_id, {"status": status.value})
    assert [item.id for item in page.items] == [session.id]


def test_no_operation_deletes_a_session() -> None:
    operations = {name for name in dir(SessionService) if not name.startswith("_")}
    assert not {name for name in operations if "delete" in name or "remove" in name}
