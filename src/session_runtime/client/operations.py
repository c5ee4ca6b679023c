"""The session operations as HTTP exchanges, without any I/O (shared by both clients).

Each function returns a :class:`Call`: the request to send, how to read a successful answer, and
what the answer does to the query cache. ``SessionRuntimeClient`` and
``AsyncSessionRuntimeClient`` only send it, so the two stay the same by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, Unpack
from urllib.parse import quote, urlencode

import httpx
import orjson
import pydantic

from .. import __version__
from ..domain.errors import SessionRuntimeError, ValidationError
from ..domain.keys import QueryKey, session_keys
from ..domain.models import (
    ConfigSource,
    CreateSessionResult,
    MediaReference,
    Mode,
    Session,
    SessionPage,
)
from ..domain.stats import SessionStats
from ..domain.tokens import new_id
from .cache import QueryCache
from .errors import error_from_response
from .filters import SessionFilters, StatsFilters, query_parameters
from .outbox import PendingWrite

ResultT = TypeVar("ResultT", bound=pydantic.BaseModel)

DEFAULT_TIMEOUT = 10.0
"""Seconds a request may take to connect, send or read (a stream's reads: ``idle_timeout``)."""


def client_headers(token: str | None) -> dict[str, str]:
    """The headers every request of a client carries (no ``Authorization`` before joining)."""
    headers = {
        "Accept": "application/json",
        "User-Agent": f"session-runtime-client/{__version__}",
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _no_effect(cache: QueryCache, result: Any) -> None:
    return None


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """What a mutation writes: an outbox queues it under this session."""

    kind: str
    """``create``, ``update``, ``complete``, ``abandon`` or ``fail``."""
    project_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class Call(Generic[ResultT]):
    """One operation as one HTTP exchange."""

    method: str
    path: str
    result_type: type[ResultT]
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cache_key: QueryKey | None = None
    """Where a read keeps its answer (``get_session(..., use_cache=True)`` looks there first)."""
    remember: Callable[[QueryCache, ResultT], None] = _no_effect
    """What a successful answer does to the cache."""
    write: WriteTarget | None = None
    """Set on mutations: what they write (an outbox queues them)."""

    def build_request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        headers = dict(self.headers)
        content = None
        if self.body is not None:
            try:
                content = orjson.dumps(self.body)
            except orjson.JSONEncodeError as exc:
                raise ValidationError.at("$", f"cannot be written as JSON: {exc}") from exc
            headers["Content-Type"] = "application/json"
        return http.build_request(
            self.method, self.path, params=self.params, content=content, headers=headers
        )

    def cached(self, cache: QueryCache) -> ResultT | None:
        """The answer a fresh cache entry already holds, if any."""
        if self.cache_key is None:
            return None
        value = cache.get_fresh(self.cache_key)
        return value if isinstance(value, self.result_type) else None

    def finish(self, response: httpx.Response, cache: QueryCache) -> ResultT:
        """Read a (fully read) response: raise its error, or parse it and update the cache."""
        if not response.is_success:
            raise error_from_response(response)
        try:
            result = self.result_type.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            raise SessionRuntimeError(
                f"the server's answer to {self.method} {self.path} does not fit the API",
                details={"status": response.status_code},
            ) from exc
        self.remember(cache, result)
        return result


def segment(name: str, value: str) -> str:
    """``value`` as one URL path segment.

    An empty id, or one with a ``/`` (which servers decode before routing, even as ``%2F``),
    would reach another route than the one meant: refused here, before any request.
    """
    if not value:
        raise ValidationError.at(name, "must not be empty")
    if "/" in value:
        raise ValidationError.at(name, "must not contain '/'")
    return quote(value, safe="")


def sessions_path(project_id: str) -> str:
    return f"/v1/projects/{segment('projectId', project_id)}/sessions"


def session_path(project_id: str, session_id: str) -> str:
    return f"{sessions_path(project_id)}/{segment('sessionId', session_id)}"


def events_path(project_id: str, session_id: str) -> str:
    """The server-sent events of one session."""
    return f"{session_path(project_id, session_id)}/events"


def _if_match(expected_version: int | None) -> dict[str, str]:
    return {} if expected_version is None else {"If-Match": f'"{expected_version}"'}


def _after_write(project_id: str, session_id: str) -> Callable[[QueryCache], None]:
    def invalidate(cache: QueryCache) -> None:
        cache.invalidate(session_keys.detail(project_id, session_id))
        cache.invalidate(session_keys.list(project_id))

    return invalidate


def _session_write(
    kind: str,
    method: str,
    path: str,
    project_id: str,
    session_id: str,
    *,
    body: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Call[Session]:
    invalidate = _after_write(project_id, session_id)

    def remember(cache: QueryCache, session: Session) -> None:
        # Keep the newest value readable, but stale: the next cached read asks the server.
        cache.set_session(session_keys.detail(project_id, session_id), session)
        invalidate(cache)

    return Call(
        method,
        path,
        Session,
        body=body,
        headers=dict(headers) if headers is not None else _if_match(expected_version),
        remember=remember,
        write=WriteTarget(kind, project_id, session_id),
    )


def create_session(
    project_id: str,
    *,
    event_id: str,
    experience_id: str,
    mode: Mode | str,
    config_source: ConfigSource | str,
    session_id: str | None = None,
) -> Call[CreateSessionResult]:
    """With ``session_id`` the session takes that id (chosen by the client; see
    ``new_session_id``); a create sent twice then finds the session the first one made."""
    body = {
        "eventId": event_id,
        "experienceId": experience_id,
        "mode": str(mode),
        "configSource": str(config_source),
    }
    if session_id is not None:
        body["sessionId"] = session_id

    def remember(cache: QueryCache, result: CreateSessionResult) -> None:
        cache.set_session(session_keys.detail(project_id, result.session_id), result.session)
        _after_write(project_id, result.session_id)(cache)

    return Call(
        "POST",
        sessions_path(project_id),
        CreateSessionResult,
        body=body,
        remember=remember,
        write=None if session_id is None else WriteTarget("create", project_id, session_id),
    )


def get_session(project_id: str, session_id: str) -> Call[Session]:
    key = session_keys.detail(project_id, session_id)

    def remember(cache: QueryCache, session: Session) -> None:
        cache.set_session(key, session)

    return Call(
        "GET", session_path(project_id, session_id), Session, cache_key=key, remember=remember
    )


def list_sessions(
    project_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    **filters: Unpack[SessionFilters],
) -> Call[SessionPage]:
    declared = SessionFilters.__optional_keys__
    given = query_parameters("list_sessions", filters, declared, limit=limit, cursor=cursor)
    params = dict(sorted(given.items()))
    # One entry per listing: the project's list key, then its parameters in a fixed order.
    key = (*session_keys.list(project_id), urlencode(params))

    def remember(cache: QueryCache, page: SessionPage) -> None:
        cache.set(key, page)

    return Call(
        "GET",
        sessions_path(project_id),
        SessionPage,
        params=params,
        cache_key=key,
        remember=remember,
    )


def session_stats(project_id: str, **filters: Unpack[StatsFilters]) -> Call[SessionStats]:
    params = query_parameters("session_stats", filters, StatsFilters.__optional_keys__)
    # Figures move with every write anywhere in the project: never cached.
    return Call("GET", f"/v1/projects/{segment('projectId', project_id)}/stats", SessionStats,
                params=params)  # fmt: skip


def update_session_progress(
    project_id: str,
    session_id: str,
    *,
    current_step_index: int | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, MediaReference] | None = None,
    expected_version: int | None = None,
) -> Call[Session]:
    body: dict[str, Any] = {}
    if current_step_index is not None:
        body["currentStepIndex"] = current_step_index
    if inputs is not None:
        body["inputs"] = inputs
    if outputs is not None:
        body["outputs"] = outputs
    return _session_write(
        "update",
        "PATCH",
        session_path(project_id, session_id),
        project_id,
        session_id,
        body=body,
        expected_version=expected_version,
    )


def complete_session(
    project_id: str, session_id: str, *, expected_version: int | None = None
) -> Call[Session]:
    path = f"{session_path(project_id, session_id)}/complete"
    return _session_write(
        "complete", "POST", path, project_id, session_id, expected_version=expected_version
    )


def abandon_session(
    project_id: str,
    session_id: str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Call[Session]:
    path = f"{session_path(project_id, session_id)}/abandon"
    body = None if reason is None else {"reason": reason}
    return _session_write(
        "abandon",
        "POST",
        path,
        project_id,
        session_id,
        body=body,
        expected_version=expected_version,
    )


def fail_session(
    project_id: str, session_id: str, reason: str, *, expected_version: int | None = None
) -> Call[Session]:
    path = f"{session_path(project_id, session_id)}/fail"
    return _session_write(
        "fail",
        "POST",
        path,
        project_id,
        session_id,
        body={"reason": reason},
        expected_version=expected_version,
    )


def new_session_id() -> str:
    """A session id a client may choose: 128 random bits, URL-safe, never starting with ``-``."""
    return new_id()


def queued_call(write: PendingWrite) -> Call[Any]:
    """The call a queued write stands for, as it was made (its key added when sent)."""
    if write.kind == "create":
        body = write.body or {}
        return create_session(
            write.project_id,
            event_id=body["eventId"],
            experience_id=body["experienceId"],
            mode=body["mode"],
            config_source=body["configSource"],
            session_id=write.session_id,
        )
    return _session_write(
        write.kind,
        write.method,
        write.path,
        write.project_id,
        write.session_id,
        body=write.body,
        headers=write.headers,
    )
