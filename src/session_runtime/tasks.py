"""Stopping the background tasks that a component owns (the sweeper, the outbox's worker).

A component that starts a task must not return from its ``close``/``stop`` while the task still
runs: the task could touch a store or a client that is being closed. Cancelling is only a
request, so the owner cancels and then waits for the task to end.

>>> await cancel_and_wait(worker)                                          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended; ``None`` (no task running) does nothing.

    The task's own ``CancelledError`` is the expected end, so it is not raised again.
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
