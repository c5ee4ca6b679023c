"""Reading requests: bearer tokens, path and query parameters, JSON bodies within their size
limit, ``If-Match``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..domain.auth import Principal
from ..domain.errors import (
    FailedPreconditionError,
    ResourceExhaustedError,
    UnauthenticatedError,
    ValidationError,
)
from ..domain.export import ExportFormat
from ..domain.models import Mode, SessionStatus
from ..service import SessionService

ProjectId = Annotated[str, Path()]
"""The ``{project_id}`` of a route's path: the project the request is about."""

SessionId = Annotated[str, Path()]
"""The ``{session_id}`` of a route's path: one session of that project."""


# The query strings of the routes over many sessions, each read as one model
# (``Annotated[SessionPageQuery, Query()]``): the filters they share are declared once, and
# ``input()`` hands the service the camelCase input it reads, a filter left out as ``None``.
# Parameters a model does not name are ignored, as they were when each was its own argument.


class SessionScope(BaseModel):
    """``?eventId=&experienceId=``: only the sessions of this event, of this experience."""

    model_config = ConfigDict(extra="ignore")

    event_id: str | None = Field(None, alias="eventId")
    experience_id: str | None = Field(None, alias="experienceId")

    def input(self) -> dict[str, Any]:
        """The query as the service's input reads it (``{"eventId": ..., ...}``)."""
        return self.model_dump(by_alias=True)


class SessionFilters(SessionScope):
    """The listing's filters, which the export takes too: scope, ``status`` and ``mode``."""

    status: SessionStatus | None = None
    mode: Mode | None = None


class SessionPageQuery(SessionFilters):
    """``GET .../sessions``: the filters, and a page of ``limit`` from ``cursor``."""

    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = None


class ExportQuery(SessionFilters):
    """``GET .../sessions:export``: the filters, and the ``format`` of the file."""

    export_format: ExportFormat = Field(ExportFormat.JSONL, alias="format")

    def input(self) -> dict[str, Any]:
        """The filters alone: the format is the route's, not the service's."""
        return self.model_dump(by_alias=True, exclude={"export_format"})


class StatsQuery(SessionScope):
    """``GET .../stats``: the scope, ``mode`` (guest unless asked: previews are not
    analytics) and when the sessions were created."""

    mode: Mode = Mode.GUEST
    created_from: str | None = Field(
        None, alias="from", description="ISO 8601; sessions created at or after."
    )
    created_to: str | None = Field(
        None, alias="to", description="ISO 8601; sessions created before."
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        raise UnauthenticatedError("send a bearer token: Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise UnauthenticatedError("the Authorization header must be 'Bearer <token>'")
    return token


def service_of(request: Request) -> SessionService:
    service: SessionService = request.app.state.runtime.service
    return service


async def authenticate(request: Request) -> Principal:
    """The request's principal, counted against its token's rate (429 when over it)."""
    token = bearer_token(request.headers.get("authorization"))
    principal = await service_of(request).authenticate(token)
    request.app.state.limits.check_rate(principal)
    return principal


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body of a FastAPI request as a JSON object (see :func:`read_json_chunks`)."""
    return await read_json_chunks(request.stream(), request.headers.get("content-length"), limit)


async def read_json_chunks(
    chunks: AsyncIterator[bytes], declared_length: str | None, limit: int
) -> dict[str, Any]:
    """A body as a JSON object; an empty body is ``{}`` (whitespace alone is not JSON).

    A body over ``limit`` bytes is refused as soon as that is known: from its
    ``Content-Length`` before anything is read, or while it streams in.
    """
    if declared_length is not None:
        if not (declared_length.isascii() and declared_length.isdigit()):
            raise ValidationError.at("Content-Length", "not a number")
        if int(declared_length) > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    if not body:
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError.at("$", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError.at("$", "the body must be a JSON object")
    return data


def _too_large(limit: int) -> ResourceExhaustedError:
    return ResourceExhaustedError(
        f"the request body is larger than {limit} bytes", details={"limit": limit}
    )


def merge_path_field(body: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """Put a path parameter into the input: the body may repeat it, not contradict it."""
    given = body.get(name, value)
    if given != value:
        raise ValidationError.at(name, "does not match the URL")
    body[name] = value
    return body


def if_match_version(header: str | None) -> int | None:
    """The version an ``If-Match`` header requires (``"3"``, ``W/"3"`` or ``3``), or ``None``."""
    if header is None or header.strip() == "*":
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()):  # str.isdigit() also takes "²", which int() refuses
        raise FailedPreconditionError(
            "If-Match must carry a version this server issued as an ETag",
            details={"ifMatch": header[:100]},
        )
    return int(text)
