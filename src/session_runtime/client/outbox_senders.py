"""Sending an outbox's writes: ``OutboxSender`` (a thread, for the blocking client) and
``AsyncOutboxSender`` (a task, for the async client), the same rules in both.

A mutation is queued first, then the queue is sent in order, at once unless the server was
unreachable a moment ago (then the backoff decides, and the caller gets the local view at
once). One pass sends the queued writes one after the other and stops at the first that
cannot reach the server; a background worker makes the next pass when the backoff allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pydantic

from ..domain.errors import SessionRuntimeError
from ..domain.idempotency import IDEMPOTENCY_HEADER
from ..domain.models import ConfigSource, CreateSessionResult, Mode, Session, SessionStatus
from ..tasks import cancel_and_wait
from .cache import QueryCache
from .errors import map_transport_errors
from .operations import Call, queued_call
from .outbox import (
    FailedWrite,
    Outbox,
    PendingWrite,
    SessionView,
    WriteFailedCallback,
    is_retryable,
)
from .reconnect import ReconnectPolicy

logger = logging.getLogger(__name__)

ResultT = TypeVar("ResultT", bound=pydantic.BaseModel)
_STILL_QUEUED: Any = object()


class OutboxLedger:
    """What both senders share: the file, the backoff, the outcomes callers wait for."""

    def __init__(
        self,
        outbox: Outbox,
        cache: QueryCache,
        policy: ReconnectPolicy,
        on_write_failed: WriteFailedCallback | None,
    ) -> None:
        self.outbox = outbox
        self.cache = cache
        self.policy = policy
        self.on_write_failed = on_write_failed
        self.failed_writes: list[FailedWrite] = []
        self.failures_in_a_row = 0
        self.retry_at = 0.0
        self.waiting: set[int] = set()
        self.outcomes: dict[int, Any] = {}

    def queue(self, call: Call[Any]) -> PendingWrite:
        assert call.write is not None
        return self.outbox.append(
            kind=call.write.kind,
            project_id=call.write.project_id,
            session_id=call.write.session_id,
            method=call.method,
            path=call.path,
            body=call.body,
            headers=call.headers,
        )

    def one_pass(self, http: httpx.Client | httpx.AsyncClient) -> Iterator[SendAttempt]:
        """The queued writes to send, in order, each as a :class:`SendAttempt`, until one
        cannot reach the server; a pass that gets through them all ends the backoff."""
        for write in self.outbox.pending():
            call = queued_call(write)
            request = call.build_request(http)
            request.headers[IDEMPOTENCY_HEADER] = write.idempotency_key
            attempt = SendAttempt(self, write, call, request)
            yield attempt
            if attempt.is_unreachable:
                return
        self.reached()

    @property
    def is_reachable(self) -> bool:
        """Whether the last pass reached the server (no failure since)."""
        return self.failures_in_a_row == 0

    def answered(self, write: PendingWrite, call: Call[Any], response: httpx.Response) -> None:
        """Settle a write the server answered; raises nothing but a retryable error."""
        try:
            result = call.finish(response, self.cache)
        except SessionRuntimeError as error:
            if is_retryable(error):
                raise
            self.refused(write, error)
            return
        session = result.session if isinstance(result, CreateSessionResult) else result
        self.outbox.settle(write, session if isinstance(session, Session) else None)
        if write.sequence in self.waiting:
            self.outcomes[write.sequence] = result

    def refused(self, write: PendingWrite, error: SessionRuntimeError) -> None:
        self.outbox.settle(write, None)
        if write.sequence in self.waiting:  # its caller is told by the exception
            self.outcomes[write.sequence] = error
            return
        logger.warning("a queued %s of session %s was refused: %s", write.kind,
                       write.session_id, error.code)  # fmt: skip
        failed = FailedWrite(write, error)
        self.failed_writes.append(failed)
        if self.on_write_failed is not None:
            try:
                self.on_write_failed(failed)
            except Exception:  # the callback's own bug must not stop the queue
                logger.exception("on_write_failed raised")

    def unreachable(self, write: PendingWrite, error: SessionRuntimeError) -> None:
        self.outbox.note_attempt(write, error)
        self.failures_in_a_row += 1
        self.retry_at = time.monotonic() + self.policy.delay(self.failures_in_a_row, error)

    def unreachable_without_write(self) -> None:
        """A pass that broke for another reason: back off all the same."""
        self.failures_in_a_row += 1
        self.retry_at = time.monotonic() + self.policy.delay(self.failures_in_a_row)

    def reached(self) -> None:
        self.failures_in_a_row = 0
        self.retry_at = 0.0

    def is_backing_off(self) -> bool:
        return time.monotonic() < self.retry_at

    def outcome(self, call: Call[ResultT], write: PendingWrite) -> ResultT:
        """The caller's answer: the server's, its refusal, or the local view if still queued."""
        self.waiting.discard(write.sequence)
        outcome = self.outcomes.pop(write.sequence, _STILL_QUEUED)
        if isinstance(outcome, SessionRuntimeError):
            raise outcome
        if outcome is not _STILL_QUEUED:
            result: ResultT = outcome
            return result
        assert call.write is not None
        view = self.outbox.view(call.write.project_id, call.write.session_id).session
        if view is None:  # a session this client never saw: only what the write says
            view = _unknown_session(call.write.project_id, call.write.session_id)
        if call.result_type is CreateSessionResult:
            return call.result_type.model_validate({"sessionId": view.id, "session": view})
        return call.result_type.model_validate(view)

    def view(self, project_id: str, session_id: str) -> SessionView:
        return self.outbox.view(project_id, session_id)


@dataclass(slots=True)
class SendAttempt:
    """Sending one queued write: a ``SessionRuntimeError`` raised inside ``with attempt:``
    means the server was not reached (the write stays queued and the backoff grows)."""

    ledger: OutboxLedger
    write: PendingWrite
    call: Call[Any]
    request: httpx.Request
    is_unreachable: bool = False

    def answered(self, response: httpx.Response) -> None:
        self.ledger.answered(self.write, self.call, response)

    def __enter__(self) -> SendAttempt:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: object
    ) -> bool:
        if not isinstance(error, SessionRuntimeError):
            return False
        self.ledger.unreachable(self.write, error)
        self.is_unreachable = True
        return True


def _unknown_session(project_id: str, session_id: str) -> Session:
    now = datetime.now(UTC)
    return Session.trusted(
        id=session_id, project_id=project_id, event_id="", experience_id="", mode=Mode.GUEST,
        config_source=ConfigSource.PUBLISHED, status=SessionStatus.ACTIVE, current_step_index=0,
        inputs={}, outputs={}, created_by="", created_at=now, updated_at=now, completed_at=None,
        end_reason=None, version=0,
    )  # fmt: skip


class OutboxSender:
    """Sends an outbox from the blocking client, with a daemon thread for the retries."""

    def __init__(
        self,
        http: httpx.Client,
        ledger: OutboxLedger,
    ) -> None:
        self.http = http
        self.ledger = ledger
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._is_stopping = False
        self._worker = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._worker.start()

    def submit(self, call: Call[ResultT]) -> ResultT:
        write = self.ledger.queue(call)
        self.ledger.waiting.add(write.sequence)
        if not self.ledger.is_backing_off():
            self.send_queued()
        self._wake.set()
        return self.ledger.outcome(call, write)

    def send_queued(self) -> bool:
        """One pass over the queue, in order; ``False`` if the server could not be reached."""
        with self._lock:
            for attempt in self.ledger.one_pass(self.http):
                with attempt, map_transport_errors():
                    attempt.answered(self.http.send(attempt.request))
            return self.ledger.is_reachable

    def flush(self, timeout: float) -> bool:
        """Send every queued write, waiting up to ``timeout`` seconds; ``True`` once none is
        left. The first attempt is made at once, the next ones as the backoff allows."""
        deadline = time.monotonic() + timeout
        force = True
        while self.ledger.outbox.count():
            if force or not self.ledger.is_backing_off():
                force = False
                self.send_queued()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, max(0.0, self.ledger.retry_at - time.monotonic())))
        return True

    def _run(self) -> None:
        while not self._is_stopping:
            if not self.ledger.outbox.count():
                self._wake.wait()
            elif self.ledger.is_backing_off():
                self._wake.wait(max(0.0, self.ledger.retry_at - time.monotonic()))
            else:
                try:
                    self.send_queued()
                except Exception:  # never let the worker die: the next pass tries again
                    logger.exception("sending the outbox failed")
                    self.ledger.unreachable_without_write()
            self._wake.clear()

    def close(self) -> None:
        self._is_stopping = True
        self._wake.set()
        self._worker.join(timeout=30)


class AsyncOutboxSender:
    """Sends an outbox from the async client, with a task for the retries."""

    def __init__(self, http: httpx.AsyncClient, ledger: OutboxLedger) -> None:
        self.http = http
        self.ledger = ledger
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def _ensure_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def submit(self, call: Call[ResultT]) -> ResultT:
        self._ensure_worker()
        write = self.ledger.queue(call)
        self.ledger.waiting.add(write.sequence)
        if not self.ledger.is_backing_off():
            await self.send_queued()
        self._wake.set()
        return self.ledger.outcome(call, write)

    async def send_queued(self) -> bool:
        """One pass over the queue, in order; ``False`` if the server could not be reached."""
        async with self._lock:
            for attempt in self.ledger.one_pass(self.http):
                with attempt, map_transport_errors():
                    attempt.answered(await self.http.send(attempt.request))
            return self.ledger.is_reachable

    async def flush(self, timeout: float) -> bool:
        """Send every queued write, waiting up to ``timeout`` seconds; ``True`` once none is
        left. The first attempt is made at once, the next ones as the backoff allows."""
        self._ensure_worker()
        deadline = time.monotonic() + timeout
        force = True
        while self.ledger.outbox.count():
            if force or not self.ledger.is_backing_off():
                force = False
                await self.send_queued()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(remaining, max(0.0, self.ledger.retry_at - time.monotonic())))
        return True

    async def _run(self) -> None:
        while True:
            if not self.ledger.outbox.count():
                await self._wake.wait()
            elif self.ledger.is_backing_off():
                with contextlib.suppress(TimeoutError):
                    delay = max(0.0, self.ledger.retry_at - time.monotonic())
                    await asyncio.wait_for(self._wake.wait(), delay)
            else:
                try:
                    await self.send_queued()
                except Exception:  # never let the worker die: the next pass tries again
                    logger.exception("sending the outbox failed")
                    self.ledger.unreachable_without_write()
            self._wake.clear()

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        await cancel_and_wait(worker)
