"""Who may do what: principals and the rules that decide.

- A **member** (owner, editor, viewer) reads every session of its project; editors and owners
  also write them and create ``preview`` sessions.
- A **guest** (scoped to a project, optionally one event) creates only ``guest`` sessions on the
  ``published`` config, of its event when it has one, and reads and writes only its own sessions.
- The **system** principal is for trusted in-process callers (the CLI, the sweeper); no token
  ever becomes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import PermissionDeniedError
from .models import ConfigSource, CreateSessionInput, Mode, Session


class Role(StrEnum):
    """A member's role in its project: every role reads; only a viewer cannot write."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def can_write(self) -> bool:
        """Whether the role may write sessions and create ``preview`` ones."""
        return self is not Role.VIEWER


@dataclass(frozen=True, slots=True)
class Member:
    """A user of the project, with a role; what a member token stands for."""

    project_id: str
    user: str
    role: Role
    token_id: str | None = None

    @property
    def created_by(self) -> str:
        """What the sessions a member creates record as ``createdBy``: ``user:<name>``."""
        return f"user:{self.user}"


@dataclass(frozen=True, slots=True)
class Guest:
    """A kiosk or a join link: one project, maybe one event; sees only its own sessions."""

    project_id: str
    token_id: str
    event_id: str | None = None

    @property
    def created_by(self) -> str:
        """``guest:<token id>``: a guest's sessions are told apart by the token that made them."""
        return f"guest:{self.token_id}"


@dataclass(frozen=True, slots=True)
class System:
    """A trusted in-process caller (the CLI, the sweeper): may do anything."""

    name: str = "system"

    @property
    def created_by(self) -> str:
        return f"system:{self.name}"


Principal = Member | Guest | System


def _denied(message: str) -> PermissionDeniedError:
    return PermissionDeniedError(message)


def authorize_project_read(principal: Principal, project_id: str) -> None:
    """Anyone scoped to the project may read (guests only their own sessions, checked later)."""
    if isinstance(principal, System):
        return
    if principal.project_id != project_id:
        raise _denied("this token is not valid for this project")


def authorize_project_admin(principal: Principal, project_id: str | None) -> None:
    """Changing the catalog or the tokens of a project takes its owner (or the system)."""
    if isinstance(principal, System):
        return
    if (
        not isinstance(principal, Member)
        or principal.project_id != project_id
        or principal.role is not Role.OWNER
    ):
        raise _denied("only an owner of the project may do this")


def authorize_create(principal: Principal, data: CreateSessionInput) -> None:
    """Check that ``principal`` may create the session ``data`` describes."""
    authorize_project_read(principal, data.project_id)
    if isinstance(principal, Member) and not principal.role.can_write:
        raise _denied("a viewer cannot create sessions")
    if isinstance(principal, Guest):
        if data.mode is not Mode.GUEST:
            raise _denied("a guest can only create guest sessions")
        if data.config_source is not ConfigSource.PUBLISHED:
            raise _denied("a guest can only run the published config")
        if principal.event_id is not None and principal.event_id != data.event_id:
            raise _denied("this guest token is for another event")


def authorize_session_read(principal: Principal, session: Session) -> None:
    authorize_project_read(principal, session.project_id)
    if isinstance(principal, Guest) and session.created_by != principal.created_by:
        raise _denied("a guest can only see the sessions it created")


def authorize_project_write(principal: Principal, project_id: str) -> None:
    """The part of a write check that needs no session: project scope and role."""
    authorize_project_read(principal, project_id)
    if isinstance(principal, Member) and not principal.role.can_write:
        raise _denied("a viewer cannot change sessions")


def authorize_session_write(principal: Principal, session: Session) -> None:
    authorize_project_write(principal, session.project_id)
    authorize_own_session(principal, session)


def authorize_own_session(principal: Principal, session: Session) -> None:
    """The per-session half of a write check, once ``authorize_project_write`` has passed."""
    if type(principal) is Guest and session.created_by != principal.created_by:
        raise _denied("a guest can only change the sessions it created")
