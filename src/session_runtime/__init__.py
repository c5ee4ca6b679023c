"""session-runtime: capture experience sessions atomically and push them live.

The public names are re-exported here; everything else is internal.
"""

from .domain.auth import Guest, Member, Principal, Role, System
from .domain.errors import (
    FailedPreconditionError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SessionRuntimeError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)
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
    "FailedPreconditionError",
    "Guest",
    "ListSessionsInput",
    "LocalChangeFeed",
    "MediaReference",
    "Member",
    "MethodNotAllowedError",
    "Mode",
    "NotFoundError",
    "OperationRecord",
    "PermissionDeniedError",
    "PostgresStore",
    "Principal",
    "Project",
    "ProjectSubscription",
    "PurgeCount",
    "ResourceExhaustedError",
    "Role",
    "Session",
    "SessionPage",
    "SessionRuntime",
    "SessionRuntimeError",
    "SessionService",
    "SessionStats",
    "SessionStatus",
    "SessionSubscription",
    "Settings",
    "SqliteStore",
    "StaleSessionSweeper",
    "StatsInput",
    "Store",
    "System",
    "TokenRecord",
    "UnauthenticatedError",
    "UnavailableError",
    "UpdateSessionProgressInput",
    "ValidationError",
    "__version__",
    "deep_merge",
    "key_starts_with",
    "session_keys",
]
