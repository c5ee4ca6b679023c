"""What every operation shares: the context it runs in, input validation, timing, logging and
observers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pydantic

from .domain.auth import Principal, authorize_project_read, authorize_session_read
from .domain.errors import NotFoundError, SessionRuntimeError, ValidationError
from .domain.idempotency import RequestReplayed
from .domain.models import Session
from .domain.ports import ChangeFeed, Store

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """What an observer (metrics, error tracking) learns about every operation."""

    action: str
    seconds: float
    error: BaseException | None = None

    @property
    def outcome(self) -> str:
        """``ok``, the error's contract code, or ``INTERNAL`` for a bug."""
        if self.error is None:
            return "ok"
        if isinstance(self.error, SessionRuntimeError):
            return self.error.code
        return "INTERNAL"


Observer = Callable[[OperationRecord], None]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class OperationContext:
    """What the parts of the service (catalog, sessions, reports) share, given to each.

    ``observers`` is a list that stays open: a server adds its metrics and error tracking once
    the service exists (``service.observers.append(...)``), and every part sees them.
    """

    store: Store
    feed: ChangeFeed
    clock: Clock
    observers: list[Observer]
    token_cache_seconds: float = 0.0
    """How long a token seen valid is trusted without reading it again (0: never)."""

    def operation(self, action: str) -> Operation:
        """Time, log and report one operation: ``with context.operation("create"): ...``."""
        return Operation(action, self.observers)

    async def readable_session(
        self, principal: Principal, project_id: str, session_id: str
    ) -> Session:
        """The session, if ``principal`` may read it (else ``NOT_FOUND`` or
        ``PERMISSION_DENIED``): one check for every part that reads a session by its id
        (getting it, sharing it, listing its share links)."""
        authorize_project_read(principal, project_id)
        session = await self.store.get_session(project_id, session_id)
        if session is None:
            raise NotFoundError.of("session", session_id)
        authorize_session_read(principal, session)
        return session


class Operation:
    """Times one operation, logs it and tells the observers how it ended."""

    __slots__ = ("action", "observers", "started")

    def __init__(self, action: str, observers: list[Observer]) -> None:
        self.action = action
        self.observers = observers
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: object
    ) -> None:
        if isinstance(error, RequestReplayed):  # answered again from its stored response
            error = None
        record = OperationRecord(self.action, time.perf_counter() - self.started, error)
        if error is not None:
            logger.info("%s failed: %s", self.action, record.outcome)
        for observer in self.observers:
            observer(record)


def parse_input(model: type[ModelT], data: ModelT | Mapping[str, Any]) -> ModelT:
    """Validate ``data`` into ``model``, turning pydantic's errors into ``ValidationError``."""
    if type(data) is not dict:
        if isinstance(data, model):
            return data
        if not isinstance(data, Mapping):
            raise ValidationError.at("$", "the input must be an object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            {
                "path": ".".join(str(part) for part in error["loc"]) or "$",
                "message": error["msg"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:3])
        raise ValidationError(f"invalid input: {summary}", details=problems) from None
