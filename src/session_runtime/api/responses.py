"""Response classes: JSON rendered by orjson, and sessions rendered by pydantic-core."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from ..domain.models import Session


class JSONBytesResponse(JSONResponse):
    """JSON by orjson; a ``JSONResponse``, so that OpenAPI documents each route's model."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_RECENT_JSON: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_RECENT_JSON_SIZE = 4096
# Bounded in bytes too: 4,096 versions of a 1 MiB session would be 4 GiB.
_RECENT_JSON_MAX_BYTES = 32 * 1024 * 1024
_recent_json_bytes = 0


def session_json(session: Session) -> bytes:
    """The session's camelCase JSON document.

    A version of a session never changes, so its JSON is kept for a while: a change fanned out
    to many subscribers is encoded once.
    """
    global _recent_json_bytes
    key = (session.id, session.version)
    encoded = _RECENT_JSON.get(key)
    if encoded is None:
        encoded = session.__pydantic_serializer__.to_json(session, by_alias=True)
        _RECENT_JSON[key] = encoded
        _recent_json_bytes += len(encoded)
        while _RECENT_JSON and (
            len(_RECENT_JSON) > _RECENT_JSON_SIZE or _recent_json_bytes > _RECENT_JSON_MAX_BYTES
        ):
            _recent_json_bytes -= len(_RECENT_JSON.popitem(last=False)[1])
    return encoded


def etag(session: Session) -> str:
    return f'"{session.version}"'


def session_response(session: Session, status_code: int = 200) -> Response:
    return Response(
        session_json(session),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": etag(session)},
    )
