"""The server's sweeper: a task that abandons forgotten sessions and prunes expired keys.

A guest who walks away from a kiosk never presses "exit". Every ``interval`` seconds the
sweeper abandons each active session with no update for longer than ``idle_after``, with the
reason recorded, published to subscribers like any change. Several server nodes may sweep the
same database: each session is re-checked in its own transaction and swept once. On the same
pass it deletes the idempotency keys past their expiry (``idempotency=``), when given.

>>> sweeper = StaleSessionSweeper(service, idle_after=timedelta(minutes=30))   # doctest: +SKIP
>>> sweeper.start()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from .domain.errors import SessionRuntimeError
from .idempotency import IdempotencyKeys
from .reporting import SWEEP_BATCH
from .service import SessionService
from .tasks import cancel_and_wait

logger = logging.getLogger(__name__)

PRUNE_INTERVAL = timedelta(minutes=1)
"""The time between two prunings of expired idempotency keys, however often the sweep runs."""


class StaleSessionSweeper:
    def __init__(
        self,
        service: SessionService,
        *,
        idle_after: timedelta | None,
        interval: float = 60.0,
        batch: int = SWEEP_BATCH,
        idempotency: IdempotencyKeys | None = None,
        prune_interval: timedelta = PRUNE_INTERVAL,
    ) -> None:
        if (idle_after is not None and idle_after <= timedelta(0)) or interval <= 0 or batch < 1:
            raise ValueError("idle_after, interval and batch must be positive")
        self.service = service
        self.idle_after = idle_after
        self.idempotency = idempotency
        self.prune_interval = prune_interval
        self._pruned_at: datetime | None = None
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        """One pass: abandon every stale session, a batch at a time; return how many."""
        total = 0
        if self.idle_after is None:
            return total
        while True:
            swept = await self.service.sweep_stale_sessions(self.idle_after, limit=self.batch)
            total += len(swept)
            if len(swept) < self.batch:
                return total

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
                await self._prune_when_due()
            except SessionRuntimeError as exc:  # storage away: the next pass tries again
                logger.warning("the stale-session sweep failed: %s", exc)
            except Exception:  # a bug: say so loudly, but keep sweeping
                logger.exception("the stale-session sweep failed")
            await asyncio.sleep(self.interval)

    async def _prune_when_due(self) -> None:
        # Keys live for hours: pruning them as often as stale sessions are looked for (which
        # may be every fraction of a second) would only add writes.
        # The keys' own clock decides, the one their expiry is measured on.
        if self.idempotency is None:
            return
        now = self.idempotency.clock()
        if self._pruned_at is not None and now - self._pruned_at < self.prune_interval:
            return
        self._pruned_at = now
        await self.idempotency.prune()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="stale-session-sweeper"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
