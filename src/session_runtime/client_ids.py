"""Client-chosen session ids: what a create naming a taken ``sessionId`` gets.

An offline client picks the id of the session it creates, so that it can queue updates to it
before the server has seen the create. When that create arrives twice (its answer was lost,
and it was sent again), the second finds the id taken. If the same caller created that session
with the same input, it gets the session back (the call is safe to retry, HTTP 200); anything
else is refused, saying only that the id is taken: never whose it is or what it holds.
"""

from __future__ import annotations

from .domain.auth import Principal
from .domain.errors import FailedPreconditionError
from .domain.models import CreateSessionInput, CreateSessionResult, Session
from .domain.ports import Store


def _is_same_create(session: Session, principal: Principal, parsed: CreateSessionInput) -> bool:
    return (
        session.created_by == principal.created_by
        and session.project_id == parsed.project_id
        and session.event_id == parsed.event_id
        and session.experience_id == parsed.experience_id
        and session.mode is parsed.mode
        and session.config_source is parsed.config_source
    )


async def repeated_create(
    store: Store, principal: Principal, parsed: CreateSessionInput
) -> CreateSessionResult:
    """The session a repeated create names (``is_new=False``), or ``FailedPreconditionError``.

    Called after the insert found ``parsed.session_id`` taken. Sessions are never deleted but
    by retention, so the session read here is the one the insert ran into.
    """
    assert parsed.session_id is not None
    existing = await store.get_session(parsed.project_id, parsed.session_id)
    if existing is None or not _is_same_create(existing, principal, parsed):
        raise FailedPreconditionError(
            f"the sessionId {parsed.session_id!r} is already taken: choose another "
            "(at least 128 random bits, e.g. 22 random URL-safe characters)",
            details={"sessionId": parsed.session_id},
        )
    return CreateSessionResult(session_id=existing.id, session=existing, is_new=False)
