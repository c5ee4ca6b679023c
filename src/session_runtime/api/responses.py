"""Response classes: JSON rendered by orjson, and sessions rendered by pydantic-core."""

from __future__ import annotations

from typing import Any

import orjson
from cachetools import FIFOCache
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from ..domain.models import Session


class JSONBytesResponse(JSONResponse):
    """JSON by orjson; a ``JSONResponse``, so that OpenAPI documents each route's model."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def model_response(model: BaseModel) -> Response:
    """``model`` as its camelCase JSON document, encoded once by pydantic-core: a route that
    answers this way skips FastAPI's validating the model again on its way out."""
    return Response(
        model.__pydantic_serializer__.to_json(model, by_alias=True), media_type="application/json"
    )


class SessionJson:
    """Renders a session as its camelCase JSON document, keeping recent versions encoded.

    A version of a session never changes, so its JSON is kept for a while: a change fanned out
    to many subscribers (and read by many pollers) is encoded once. The app owns one and hands
    it to every route that sends sessions. Bounded in versions and in bytes: 4,096 versions of
    a 1 MiB session would be 4 GiB.

    >>> session_json = SessionJson()
    >>> session_json(session)                       # doctest: +SKIP
    b'{"id":"...","projectId":"...",...}'
    """

    def __init__(self, *, max_versions: int = 4096, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_versions = max_versions
        self._recent: FIFOCache[tuple[str, int], bytes] = FIFOCache(
            maxsize=max_bytes, getsizeof=len
        )

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def size_in_bytes(self) -> int:
        return int(self._recent.currsize)

    def __call__(self, session: Session) -> bytes:
        key = (session.id, session.version)
        encoded = self._recent.get(key)
        if encoded is None:
            encoded = session.__pydantic_serializer__.to_json(session, by_alias=True)
            if len(encoded) <= self._recent.maxsize:
                self._recent[key] = encoded
                while len(self._recent) > self.max_versions:
                    self._recent.popitem()
        return encoded
