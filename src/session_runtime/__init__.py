"""session-runtime: capture experience sessions atomically and push them live.

The public names are re-exported here; everything else is internal.
"""

from .domain import errors as _errors
from .domain.auth import Guest, Member, Principal, Role, System
from .domain.errors import *  # noqa: F403  (the error tree: domain/errors.py names it once)
from .domain.guests import GuestErasure, JoinedGuest, JoinLink, SessionErased, ShareLink
from .domain.keys import key_starts_with, session_keys
from .domain.merge import deep_merge
from .domain.models import (
    AbandonSessionInput,
    CompleteSessionInput,
    ConfigSource,
    CreateSessionInput,
    CreateSessionResult,
    Event,
    Experience,
    FailSessionInput,
    ListSessionsInput,
    MediaReference,
    Mode,
    Project,
    Session,
    SessionPage,
    SessionStatus,
    UpdateSessionProgressInput,
)
from .domain.ports import ChangeFeed, PurgeCount, Store
from .domain.stats import ExperienceFunnel, SessionStats, StatsInput
from .domain.tokens import TokenRecord
from .guests import GuestOperations, GuestPolicy, SharedResult
from .realtime.hub import LocalChangeFeed
from .runtime import SessionRuntime
from .service import OperationRecord, SessionService
from .settings import Settings
from .storage.postgres import PostgresStore
from .storage.sqlite import SqliteStore
from .subscriptions import ProjectSubscription, SessionSubscription
from .sweeper import StaleSessionSweeper

SYSTEM = System()
"""The principal of trusted in-process callers (scripts, the CLI): may do anything."""

__version__ = "0.1.0"

__all__ = [
    "SYSTEM",
    "AbandonSessionInput",
    "ChangeFeed",
    "CompleteSessionInput",
    "ConfigSource",
    "CreateSessionInput",
    "CreateSessionResult",
    "Event",
    "Experience",
    "ExperienceFunnel",
    "FailSessionInput",
    "Guest",
    "GuestErasure",
    "GuestOperations",
    "GuestPolicy",
    "JoinLink",
    "JoinedGuest",
    "ListSessionsInput",
    "LocalChangeFeed",
    "MediaReference",
    "Member",
    "Mode",
    "OperationRecord",
    "PostgresStore",
    "Principal",
    "Project",
    "ProjectSubscription",
    "PurgeCount",
    "Role",
    "Session",
    "SessionErased",
    "SessionPage",
    "SessionRuntime",
    "SessionService",
    "SessionStats",
    "SessionStatus",
    "SessionSubscription",
    "Settings",
    "ShareLink",
    "SharedResult",
    "SqliteStore",
    "StaleSessionSweeper",
    "StatsInput",
    "Store",
    "System",
    "TokenRecord",
    "UpdateSessionProgressInput",
    "__version__",
    "deep_merge",
    "key_starts_with",
    "session_keys",
]
__all__ += _errors.__all__  # SessionRuntimeError and each class of its tree
