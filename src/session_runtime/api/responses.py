"""Response classes: JSON rendered by orjson, and sessions rendered by pydantic-core."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ..domain.models import Session


class JSONBytesResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def session_json(session: Session) -> bytes:
    """The session's camelCase JSON document."""
    return session.__pydantic_serializer__.to_json(session, by_alias=True)


def etag(session: Session) -> str:
    return f'"{session.version}"'


def session_response(session: Session, status_code: int = 200) -> Response:
    return Response(
        session_json(session),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": etag(session)},
    )
