"""Settings, read once from the environment (prefix ``SESSION_RUNTIME_``) into one object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable, with the embedded defaults.

    >>> Settings(database_path="var/demo.db").synchronous
    'FULL'
    """

    model_config = SettingsConfigDict(
        env_prefix="SESSION_RUNTIME_", frozen=True, extra="ignore", populate_by_name=True
    )

    database_path: Path = Field(
        default=Path("var/session-runtime.db"), description="The SQLite file (embedded default)."
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SESSION_RUNTIME_DATABASE_URL", "DATABASE_URL", "database_url"
        ),
        description="postgresql://... to run on PostgreSQL (several server nodes on one "
        "database); unset: the SQLite file.",
    )
    pg_min_pool: int = Field(default=2, ge=1, description="PostgreSQL connections kept open.")
    pg_max_pool: int = Field(
        default=10, ge=1, description="Most PostgreSQL connections one node opens."
    )
    synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: every acknowledged write survives power loss. NORMAL: faster; "
        "survives a process crash but may lose the last commits on power loss.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="How long a write waits for a lock another process holds before failing "
        "with UNAVAILABLE.",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Origins (scheme://host[:port], comma-separated) whose pages may call the "
        "API from a browser; '*' allows any (never with credentials: tokens go in headers). "
        "Empty: same origin only.",
    )
    access_log: Literal["all", "errors", "off"] = Field(
        default="errors",
        description="Which requests the server logs, one line each at INFO: all, errors (4xx "
        "and 5xx answers only) or off. Behind a proxy or load balancer that logs requests, "
        "errors or off is usual.",
    )
    host: str = Field(default="127.0.0.1", description="Address the server listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the server listens on.")
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger ones get 413 before being read.",
    )
    heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="An idle SSE stream sends a comment this often."
    )
    ws_max_message_bytes: int = Field(
        default=64 * 1024, ge=256, description="Largest WebSocket message a client may send."
    )
    ws_max_subscriptions: int = Field(
        default=1000, ge=1, description="Most subscriptions one WebSocket connection may hold."
    )
    rate_limit_per_second: float = Field(
        default=100.0,
        ge=0,
        description="Requests one token may make per second, sustained (HTTP requests, SSE "
        "streams opened, WebSocket subscribes); over it: 429 RESOURCE_EXHAUSTED with "
        "Retry-After. 0 turns rate limiting off.",
    )
    rate_limit_burst: int = Field(
        default=500,
        ge=1,
        description="Requests one idle token may make at once, above the sustained rate.",
    )
    max_subscriptions_per_token: int = Field(
        default=1000,
        ge=0,
        description="Open subscriptions (SSE streams and WebSocket subscriptions, over all "
        "connections) one token may hold; more get 429 RESOURCE_EXHAUSTED. 0: no cap.",
    )
    token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a server trusts a token it has checked. A revocation made by "
        "another process (the CLI) takes effect within this time.",
    )
    stale_after_seconds: float = Field(
        default=1800.0,
        ge=0,
        description="An active session with no update for this long is abandoned by the "
        "server's sweeper (reason recorded); 0 turns the sweeper off.",
    )
    sweep_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the sweeper looks for stale sessions."
    )
    tune_gc: bool = Field(
        default=True,
        description="Tune the garbage collector for a long-running server at start-up.",
    )
    sentry_dsn: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SESSION_RUNTIME_SENTRY_DSN", "SENTRY_DSN", "sentry_dsn"),
        description="When set, failed operations are reported to Sentry.",
    )
    sentry_environment: str = Field(
        default="production",
        validation_alias=AliasChoices(
            "SESSION_RUNTIME_SENTRY_ENVIRONMENT", "SENTRY_ENVIRONMENT", "sentry_environment"
        ),
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """``"https://a.example, http://127.0.0.1:5173"`` -> a tuple of checked origins."""
        if isinstance(value, str):
            value = [part for part in (item.strip() for item in value.split(",")) if part]
        if not isinstance(value, list | tuple):
            return value
        return tuple(_checked_origin(str(origin)) for origin in value)


def _checked_origin(origin: str) -> str:
    """An origin as browsers send it: ``scheme://host[:port]``, no path, no trailing slash."""
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(
            f"{origin!r} is not an origin: write scheme://host[:port], e.g. http://127.0.0.1:5173"
        )
    return f"{parts.scheme}://{parts.netloc}".lower()
