"""``cancel_and_wait``: a task's owner returns only once the task has ended."""

from __future__ import annotations

import asyncio

from session_runtime.tasks import cancel_and_wait


async def test_returns_after_the_task_has_run_its_cleanup() -> None:
    started = asyncio.Event()
    cleaned_up: list[str] = []

    async def worker() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # a cleanup that itself awaits
            cleaned_up.append("closed")

    task = asyncio.create_task(worker())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()
    assert cleaned_up == ["closed"]


async def test_a_task_that_already_ended_stays_as_it_ended() -> None:
    async def answer() -> int:
        return 42

    task = asyncio.create_task(answer())
    await task
    await cancel_and_wait(task)
    assert not task.cancelled()
    assert task.result() == 42
