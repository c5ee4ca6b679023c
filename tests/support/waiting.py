"""Waiting for a condition instead of sleeping: tests order events by what happened, never by
how long something usually takes.

>>> wait_until(lambda: live.session is not None, timeout=5)          # doctest: +SKIP
>>> await wait_until_async(lambda: live.error is not None)           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
POLL_INTERVAL = 0.01


def wait_until(
    condition: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, *, what: str | None = None
) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail with an
    ``AssertionError`` (naming ``what``, or the condition) once ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not so after {timeout} s: {what or _name(condition)}")
        time.sleep(POLL_INTERVAL)


async def wait_until_async(
    condition: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, *, what: str | None = None
) -> T:
    """:func:`wait_until` for a test on the event loop: the loop runs on while it waits."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not so after {timeout} s: {what or _name(condition)}")
        await asyncio.sleep(POLL_INTERVAL)


def _name(condition: Callable[[], object]) -> str:
    return getattr(condition, "__qualname__", repr(condition))
