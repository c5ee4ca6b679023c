"""The state machine: ``active -> completed | abandoned | error``; the others are final."""

from __future__ import annotations

import itertools

import pytest

from session_runtime import FailedPreconditionError, SessionStatus
from session_runtime.domain.state import (
    FINAL_STATUSES,
    check_progress_allowed,
    needs_transition,
)

FINAL = [SessionStatus.COMPLETED, SessionStatus.ABANDONED, SessionStatus.ERROR]


def test_the_statuses_are_the_contracts() -> None:
    assert [status.value for status in SessionStatus] == [
        "active",
        "completed",
        "abandoned",
        "error",
    ]


def test_only_active_is_not_final() -> None:
    assert not SessionStatus.ACTIVE.is_final
    assert all(status.is_final for status in FINAL)
    assert frozenset(FINAL) == FINAL_STATUSES


def test_progress_is_allowed_while_active() -> None:
    check_progress_allowed(SessionStatus.ACTIVE)


@pytest.mark.parametrize("status", FINAL)
def test_progress_is_refused_once_final(status: SessionStatus) -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        check_progress_allowed(status)
    assert caught.value.code == "FAILED_PRECONDITION"
    assert caught.value.details == {"status": status.value}


@pytest.mark.parametrize("target", FINAL)
def test_active_moves_to_every_final_status(target: SessionStatus) -> None:
    assert needs_transition(SessionStatus.ACTIVE, target) is True


@pytest.mark.parametrize("status", FINAL)
def test_repeating_a_final_transition_is_a_no_op(status: SessionStatus) -> None:
    assert needs_transition(status, status) is False


@pytest.mark.parametrize(("current", "target"), list(itertools.permutations(FINAL, 2)))
def test_a_final_status_never_moves_to_another(
    current: SessionStatus, target: SessionStatus
) -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        needs_transition(current, target)
    assert caught.value.details == {"status": current.value, "requested": target.value}


@pytest.mark.parametrize("current", list(SessionStatus))
def test_active_is_never_a_target(current: SessionStatus) -> None:
    with pytest.raises(ValueError, match="not a final status"):
        needs_transition(current, SessionStatus.ACTIVE)
