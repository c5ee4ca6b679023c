"""The waiting helpers: they return what the condition gave, and fail once time is up."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from .waiting import wait_until, wait_until_async


def test_wait_until_returns_the_first_true_value() -> None:
    answers = itertools.chain([0, None, ""], itertools.repeat("ready"))

    assert wait_until(lambda: next(answers), timeout=5) == "ready"


def test_wait_until_fails_naming_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match="the door opened"):
        wait_until(lambda: False, timeout=0.05, what="the door opened")


async def test_wait_until_async_lets_the_loop_run_meanwhile() -> None:

    done = asyncio.Event()
    asyncio.get_running_loop().call_soon(done.set)

    assert await wait_until_async(done.is_set, timeout=5)
    with pytest.raises(AssertionError, match="never"):
        await wait_until_async(lambda: None, timeout=0.05, what="never")
