"""Settings, read once from the environment (prefix ``SESSION_RUNTIME_``) into one object."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
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
    guest_token_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long the token of a guest who joined by a link is valid.",
    )
    share_link_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long a share link lives unless its maker asks for less.",
    )
    public_url: str | None = Field(
        default=None,
        description="The address guests reach this server at (https://booth.example.com), for "
        "join and share URLs and their QR codes; unset: the address each request came to.",
    )
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Addresses or networks (comma-separated, e.g. 10.0.0.5,10.1.0.0/16) of "
        "reverse proxies whose X-Forwarded-For names the client; empty: the peer's address.",
    )
    joins_per_address_per_minute: float = Field(
        default=60.0,
        ge=0,
        description="Guests one client address may create per minute by join links, "
        "sustained; 0 turns this limit off.",
    )
    join_burst_per_address: int = Field(
        default=300, ge=1, description="Joins one address may make at once, above that rate."
    )
    joins_per_link_per_minute: float = Field(
        default=600.0,
        ge=0,
        description="Guests one join link may take in per minute, sustained; 0: no limit.",
    )
    join_burst_per_link: int = Field(
        default=1000, ge=1, description="Joins one link may take at once, above that rate."
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
    idempotency_ttl_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="How long an Idempotency-Key and its stored response are kept; the "
        "server's sweeper deletes them afterwards.",
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

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """``"10.0.0.5, 10.1.0.0/16"`` -> a tuple of networks, each checked."""
        return _each_of_list(value, lambda item: str(ipaddress.ip_network(item, strict=False)))

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(f"{value!r} is not a base URL: write https://host[:port][/path]")
        return value.rstrip("/")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """``"https://a.example, http://127.0.0.1:5173"`` -> a tuple of checked origins."""
        return _each_of_list(value, _checked_origin)


def _each_of_list(value: object, check: Callable[[str], str]) -> object:
    """A comma-separated string (as the environment gives it) or a list, as a tuple of checked
    items; anything else is left for pydantic to refuse with its usual message."""
    if isinstance(value, str):
        value = [part for part in (item.strip() for item in value.split(",")) if part]
    if not isinstance(value, list | tuple):
        return value
    return tuple(check(str(item)) for item in value)


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
