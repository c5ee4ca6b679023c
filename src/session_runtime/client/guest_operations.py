"""The guest operations as HTTP exchanges, without any I/O (shared by both clients): joining by
a link, one's own sessions, sharing a completed session, erasing a guest."""

from __future__ import annotations

from urllib.parse import quote

from ..domain.errors import ValidationError
from ..domain.guest_views import CreatedShareLink, ErasureView, JoinResponse, OwnSessions
from ..domain.keys import session_keys
from .cache import QueryCache
from .operations import Call, segment, session_path


def join(code: str) -> Call[JoinResponse]:
    """``POST /v1/join/{code}``: a fresh guest; sent with no token."""
    if not code or "/" in code:
        raise ValidationError.at("code", "must be a join code (the last part of a join URL)")
    return Call("POST", f"/v1/join/{quote(code, safe='')}", JoinResponse)


def my_sessions(limit: int = 50) -> Call[OwnSessions]:
    return Call("GET", "/v1/me/sessions", OwnSessions, params={"limit": str(limit)})


def share_session(
    project_id: str, session_id: str, *, expires_in_seconds: int | None = None
) -> Call[CreatedShareLink]:
    body = {} if expires_in_seconds is None else {"expiresInSeconds": expires_in_seconds}
    return Call(
        "POST", f"{session_path(project_id, session_id)}/shares", CreatedShareLink, body=body
    )


def _forget_sessions(cache: QueryCache, result: ErasureView) -> None:
    # Erased sessions are gone: nothing cached of them may be served again.
    cache.invalidate(session_keys.all)


def erase_guest(project_id: str, guest_id: str) -> Call[ErasureView]:
    path = f"/v1/projects/{segment('projectId', project_id)}/guests/{segment('guestId', guest_id)}"
    return Call("DELETE", path, ErasureView, remember=_forget_sessions)


def erase_me() -> Call[ErasureView]:
    return Call("DELETE", "/v1/me", ErasureView, remember=_forget_sessions)
