"""The session, its media references, the catalog, and the input of every operation.

JSON is camelCase (``currentStepIndex``); Python attributes are snake_case
(``current_step_index``). Models accept either spelling.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel
from typing_extensions import TypedDict

from .ids import MAX_ID_LENGTH, ChosenId
from .limits import NUL_MESSAGE, holds_nul
from .state import SessionStatus

__all__ = [
    "AbandonSessionInput",
    "CompleteSessionInput",
    "ConfigSource",
    "CreateEventInput",
    "CreateExperienceInput",
    "CreateProjectInput",
    "CreateSessionInput",
    "CreateSessionResult",
    "Event",
    "Experience",
    "FailSessionInput",
    "ListSessionsInput",
    "MediaReference",
    "Mode",
    "Project",
    "Session",
    "SessionPage",
    "SessionStatus",
    "UpdateSessionProgressInput",
]

MAX_REASON_LENGTH = 500
MAX_NAME_LENGTH = 200


class Mode(StrEnum):
    PREVIEW = "preview"
    GUEST = "guest"


class ConfigSource(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise ValueError("must not contain spaces or control characters")
    return url


HttpUrlText = Annotated[
    StrictStr, Field(min_length=1, max_length=8192), AfterValidator(_check_http_url)
]
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


def _refuse_nul(text: str) -> str:
    if holds_nul(text):
        raise ValueError(NUL_MESSAGE)
    return text


Reason = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_REASON_LENGTH), AfterValidator(_refuse_nul)
]


class MediaReference(TypedDict):
    """A produced media asset: ``{"mediaAssetId": "...", "url": "https://..."}``; no other keys."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    mediaAssetId: Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    url: HttpUrlText


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
    )


class Session(_Model):
    """One run of an experience: its progress, answers and media, as stored."""

    id: str
    project_id: str
    event_id: str
    experience_id: str
    mode: Mode
    config_source: ConfigSource
    status: SessionStatus
    current_step_index: int
    inputs: dict[str, Any]
    outputs: dict[str, MediaReference]
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    end_reason: str | None = None
    version: int

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @classmethod
    def trusted(cls, **values: Any) -> Session:
        """Build from values a store wrote itself, skipping validation (the hot read path).

        Every field must be given, with its Python type. Same result as ``model_construct``
        at a fraction of its cost.
        """
        session = cls.__new__(cls)
        _set_attribute(session, "__dict__", values)
        _set_attribute(session, "__pydantic_fields_set__", set(_SESSION_FIELDS))
        _set_attribute(session, "__pydantic_extra__", None)
        _set_attribute(session, "__pydantic_private__", None)
        return session

    def evolve(self, **changes: Any) -> Session:
        """A copy with ``changes`` applied (trusted values, as for :meth:`trusted`)."""
        return Session.trusted(**{**self.__dict__, **changes})

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON document, timestamps as ISO 8601 with ``Z``."""
        return self.model_dump(mode="json", by_alias=True)


_SESSION_FIELDS = frozenset(Session.model_fields)
_set_attribute = object.__setattr__


class CreateSessionResult(_Model):
    session_id: str
    session: Session


class SessionPage(_Model):
    """One page of a listing, newest first; pass ``next_cursor`` back to get the next."""

    items: list[Session]
    next_cursor: str | None = None


class Project(_Model):
    id: str
    name: str
    created_at: datetime


class Event(_Model):
    id: str
    project_id: str
    name: str
    created_at: datetime


class Experience(_Model):
    id: str
    project_id: str
    name: str
    created_at: datetime


# -- operation inputs: the contract's Zod schemas, field for field --------------------------


class CreateSessionInput(_Model):
    project_id: Identifier
    event_id: Identifier
    experience_id: Identifier
    mode: Mode
    config_source: ConfigSource


class UpdateSessionProgressInput(_Model):
    session_id: Identifier
    current_step_index: Annotated[StrictInt, Field(ge=0, le=2**31 - 1)] | None = None
    inputs: dict[StrictStr, Any] | None = None
    outputs: dict[StrictStr, MediaReference] | None = None


class CompleteSessionInput(_Model):
    session_id: Identifier


class AbandonSessionInput(_Model):
    session_id: Identifier
    reason: Reason | None = None


class FailSessionInput(_Model):
    session_id: Identifier
    reason: Reason


class ListSessionsInput(_Model):
    event_id: Identifier | None = None
    experience_id: Identifier | None = None
    status: SessionStatus | None = None
    mode: Mode | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=500)] = 50
    cursor: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None


class CreateProjectInput(_Model):
    name: Name
    id: ChosenId | None = None


class CreateEventInput(_Model):
    project_id: Identifier
    name: Name
    id: ChosenId | None = None


class CreateExperienceInput(_Model):
    project_id: Identifier
    name: Name
    id: ChosenId | None = None
