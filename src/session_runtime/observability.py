"""Error tracking with Sentry: every failed operation, tagged ``domain=session`` and ``action``.

Expected client errors (validation, permission, not found, a final session, a limit) become
breadcrumbs, so they give context to the next event without raising alarms of their own;
storage outages and bugs become events.
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk

from .domain.errors import SessionRuntimeError, UnavailableError
from .service import OperationRecord
from .settings import Settings

logger = logging.getLogger(__name__)


def init_sentry(settings: Settings, **options: Any) -> bool:
    """Initialise ``sentry-sdk`` when a DSN is configured; ``True`` if it was."""
    if not settings.sentry_dsn:
        return False
    from . import __version__

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=f"session-runtime@{__version__}",
        traces_sample_rate=0.0,
        **options,
    )
    logger.info("error tracking with Sentry is on")
    return True


def is_expected(error: BaseException) -> bool:
    """A caller's mistake the system handled as designed, not a fault of ours."""
    return isinstance(error, SessionRuntimeError) and not isinstance(error, UnavailableError)


def report_to_sentry(record: OperationRecord) -> None:
    """A service observer that reports failed operations."""
    error = record.error
    if error is None:
        return
    if is_expected(error):
        sentry_sdk.add_breadcrumb(
            category="session",
            message=f"{record.action} refused: {record.outcome}",
            level="info",
            data={"domain": "session", "action": record.action, "code": record.outcome},
        )
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("domain", "session")
        scope.set_tag("action", record.action)
        scope.set_tag("code", record.outcome)
        sentry_sdk.capture_exception(error)
