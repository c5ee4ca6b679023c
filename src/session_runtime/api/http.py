"""Reading requests: bearer tokens, JSON bodies within their size limit, ``If-Match``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Query, Request

from ..domain.auth import Principal
from ..domain.errors import (
    FailedPreconditionError,
    ResourceExhaustedError,
    UnauthenticatedError,
    ValidationError,
)
from ..service import SessionService

EventFilter = Annotated[str | None, Query(alias="eventId")]
"""``?eventId=``: only the sessions of this event (the listing, the figures, the export)."""

ExperienceFilter = Annotated[str | None, Query(alias="experienceId")]
"""``?experienceId=``: only the sessions of this experience (as ``EventFilter``)."""


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
