"""The session state machine: ``active -> completed | abandoned | error``; the others are final."""

from __future__ import annotations

from enum import StrEnum

from .errors import FailedPreconditionError


class SessionStatus(StrEnum):
    """Where a session stands; every status but ``active`` is final."""

    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    ERROR = "error"

    @property
    def is_final(self) -> bool:
        return self is not SessionStatus.ACTIVE


FINAL_STATUSES = frozenset(status for status in SessionStatus if status.is_final)


def check_progress_allowed(status: SessionStatus) -> None:
    """Progress updates are allowed only while a session is active."""
    if status is not SessionStatus.ACTIVE:
        raise FailedPreconditionError(
            f"session is {status.value}: progress can no longer be recorded",
            details={"status": status.value},
        )


def needs_transition(current: SessionStatus, target: SessionStatus) -> bool:
    """Whether moving from ``current`` to the final ``target`` must write.

    Returns ``False`` when the session is already in ``target``: repeating the same final
    transition is a successful no-op, so a client may retry it safely. Any other move out of a
    final status is refused.

    >>> needs_transition(SessionStatus.ACTIVE, SessionStatus.COMPLETED)
    True
    >>> needs_transition(SessionStatus.COMPLETED, SessionStatus.COMPLETED)
    False
    """
    if not target.is_final:
        raise ValueError(f"{target.value} is not a final status")
    if current is target:
        return False
    if current.is_final:
        raise FailedPreconditionError(
            f"session is {current.value}: it cannot become {target.value}",
            details={"status": current.value, "requested": target.value},
        )
    return True
