"""The Python client SDK of session-runtime: the contract's hooks, over HTTP.

>>> from session_runtime.client import SessionRuntimeClient
>>> with SessionRuntimeClient("http://127.0.0.1:8000", token) as client:   # doctest: +SKIP
...     project = client.project("p1")
...     created = project.create_session(event_id="e1", experience_id="x1",
...                                      mode="guest", config_source="published")
...     with project.subscribe_session(created.session_id) as live:
...         for session in live:
...             print(session.version, session.status)

``AsyncSessionRuntimeClient`` offers the same, awaited. Errors are the server's own classes
(``session_runtime.NotFoundError``, ...), re-exported here for convenience.
"""

from ..domain.errors import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SessionRuntimeError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)
from ..domain.keys import key_starts_with, session_keys
from .async_client import AsyncProjectClient, AsyncSessionRuntimeClient
from .cache import CacheEntry, QueryCache
from .filters import SessionFilters, StatsFilters
from .live import AsyncLiveSession, LiveSession
from .operations import new_session_id
from .outbox import FailedWrite, PendingWrite, SessionView
from .reconnect import ReconnectPolicy
from .sync_client import ProjectClient, SessionRuntimeClient

__all__ = [
    "AsyncLiveSession",
    "AsyncProjectClient",
    "AsyncSessionRuntimeClient",
    "CacheEntry",
    "FailedPreconditionError",
    "FailedWrite",
    "LiveSession",
    "NotFoundError",
    "PendingWrite",
    "PermissionDeniedError",
    "ProjectClient",
    "QueryCache",
    "ReconnectPolicy",
    "ResourceExhaustedError",
    "SessionFilters",
    "SessionRuntimeClient",
    "SessionRuntimeError",
    "SessionView",
    "StatsFilters",
    "UnauthenticatedError",
    "UnavailableError",
    "ValidationError",
    "key_starts_with",
    "new_session_id",
    "session_keys",
]
