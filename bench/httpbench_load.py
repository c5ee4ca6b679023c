"""Load generators of the HTTP benchmark: closed-loop requests, paced writes, SSE subscribers.

``closed_loop`` keeps N keep-alive connections busy (one request in flight on each) for a fixed
time. ``measure_fanout`` runs one writer process sending paced PATCHes, each carrying
``inputs.sentAt = time.time_ns()`` taken just before the request is written, and subscriber
processes holding SSE streams; a subscriber notes ``time.time_ns()`` when the bytes of a snapshot
arrive and subtracts the ``sentAt`` inside it. All processes read the same machine clock.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import queue as queue_module
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from httpbench_client import (
    EventStream,
    HttpConnection,
    ProtocolError,
    build_request,
    event_int_field,
    event_version,
    raise_open_files_limit,
    run_async,
)

CONNECT_CONCURRENCY = 64
CONNECT_TIMEOUT = 30.0
_CONNECTION_ERRORS = (
    OSError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    ProtocolError,
)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile; ``nan`` for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# -- closed loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """Requests counted after the warm-up; CPU and wall time of the whole run, warm-up included."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    all_requests: int
    wall_seconds: float
    client_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def closed_loop(
    port: int, requests: Sequence[Sequence[bytes]], *, duration: float, warmup: float
) -> LoadResult:
    """One connection per item of ``requests``, each sending its requests in turn, nonstop.

    Requests started during the first ``warmup`` seconds are not counted.
    """
    connections = [await HttpConnection.open(port) for _ in requests]
    clock = time.perf_counter  # uvloop's loop.time() has a resolution of a millisecond
    measure_from = clock() + warmup
    end = measure_from + duration
    latencies: list[float] = []
    errors = sent = 0

    async def worker(connection: HttpConnection, cycle: Sequence[bytes]) -> None:
        nonlocal errors, sent
        index = 0
        while (started := clock()) < end and index < 10_000_000:
            status, _ = await connection.send(cycle[index % len(cycle)])
            index += 1
            sent += 1
            if started >= measure_from:
                latencies.append((clock() - started) * 1000)
                errors += status != 200

    cpu_before, wall_before = time.process_time(), clock()
    try:
        async with asyncio.timeout(warmup + duration + 30):
            await asyncio.gather(
                *(worker(c, r) for c, r in zip(connections, requests, strict=True))
            )
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    now = clock()
    cpu = time.process_time() - cpu_before
    return LoadResult(
        len(latencies), errors, now - measure_from, latencies, sent, now - wall_before, cpu
    )


# -- the writer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WriterJob:
    port: int
    token: str
    paths: list[str]
    rate: float
    duration: float
    connections: int = 16
    # Stop sending after this many seconds even if the server has not kept the pace (a slow
    # server then shows as a lower rate sent, not as a run that never ends); None: never.
    give_up_after: float | None = None


@dataclass
class WriterResult:
    sent: int = 0
    errors: int = 0
    seconds: float = 0.0
    response_ms: list[float] = field(default_factory=list)
    max_lag_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def progress_body(step: int, inputs: bytes) -> bytes:
    return b'{"currentStepIndex":%d,"inputs":%s}' % (step, inputs)


async def _paced_writes(job: WriterJob, start: Event) -> WriterResult:
    pool: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for _ in range(job.connections):
        pool.put_nowait(await HttpConnection.open(job.port))
    result = WriterResult()
    await _wait_for(start.is_set, CONNECT_TIMEOUT * 2)

    async def write(connection: HttpConnection, index: int) -> None:
        sent_at = time.time_ns()
        body = progress_body(index % 7, b'{"sentAt":%d}' % sent_at)
        path = job.paths[index % len(job.paths)]
        request = build_request("PATCH", path, port=job.port, token=job.token, body=body)
        result.sent += 1
        try:
            status, _ = await connection.send(request)
        except _CONNECTION_ERRORS:
            result.errors += 1
            await connection.close()
            connection = await HttpConnection.open(job.port)  # a failure here ends the run
        else:
            result.response_ms.append((time.time_ns() - sent_at) / 1e6)
            result.errors += status != 200
        pool.put_nowait(connection)

    clock = time.perf_counter
    tasks: set[asyncio.Task[None]] = set()
    begun = clock()
    for index in range(int(job.rate * job.duration)):
        if job.give_up_after is not None and clock() - begun > job.give_up_after:
            break
        due = begun + index / job.rate
        if (delay := due - clock()) > 0:
            await asyncio.sleep(delay)
        connection = await asyncio.wait_for(pool.get(), timeout=CONNECT_TIMEOUT)
        result.max_lag_ms = max(result.max_lag_ms, (clock() - due) * 1000)
        task = asyncio.create_task(write(connection, index))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=CONNECT_TIMEOUT)
    result.seconds = clock() - begun
    return result


def run_writer(job: WriterJob, start: Event, results: Queue[Any]) -> None:
    """Process entry: open the connections, wait for ``start``, write for ``job.duration``."""
    raise_open_files_limit()

    async def bounded() -> WriterResult:
        async with asyncio.timeout(CONNECT_TIMEOUT * 3 + job.duration):
            return await _paced_writes(job, start)

    results.put(("writer", run_async(bounded)))


# -- subscribers --------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberJob:
    port: int
    token: str
    paths: list[str]
    max_seconds: float


@dataclass
class SubscriberResult:
    connected: int = 0
    failed: int = 0
    events: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def open_streams(
    port: int, token: str, paths: Sequence[str]
) -> tuple[list[tuple[EventStream, int]], int]:
    """Open a stream per path (a few at a time) and read its first snapshot.

    Returns each open stream with the version of that snapshot, and how many failed to open.
    """
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(path: str) -> tuple[EventStream, int]:
        async with gate, asyncio.timeout(CONNECT_TIMEOUT):
            stream = await EventStream.open(port, path, token)
            try:
                return stream, await stream.initial_version(CONNECT_TIMEOUT)
            except BaseException:
                await stream.close()
                raise

    outcomes = await asyncio.gather(*(open_one(path) for path in paths), return_exceptions=True)
    opened = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    return opened, len(outcomes) - len(opened)


async def _follow(stream: EventStream, version: int, result: SubscriberResult) -> None:
    while not stream.is_ended:
        arrived, events = await stream.read_events()
        for event in events:
            event_at = event_version(event)
            if event_at is None or event_at <= version:
                continue
            version = event_at
            result.events += 1
            sent_at = event_int_field(event, b"sentAt")
            if sent_at is not None:
                result.latencies_ms.append((arrived - sent_at) / 1e6)


async def _subscribe(job: SubscriberJob, ready: Queue[Any], stop: Event) -> SubscriberResult:
    deadline = time.monotonic() + job.max_seconds
    opened, failed = await open_streams(job.port, job.token, job.paths)
    result = SubscriberResult(connected=len(opened), failed=failed)
    ready.put(len(opened))
    tasks = [asyncio.create_task(_follow(stream, version, result)) for stream, version in opened]
    try:
        await _wait_for(stop.is_set, deadline - time.monotonic())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(stream.close() for stream, _ in opened), return_exceptions=True)
    return result


def run_subscribers(
    job: SubscriberJob, ready: Queue[Any], stop: Event, results: Queue[Any]
) -> None:
    """Process entry: open the streams, report ready, record latencies until ``stop``."""
    raise_open_files_limit()
    results.put(("subscribers", run_async(lambda: _subscribe(job, ready, stop))))


async def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


# -- one fan-out measurement --------------------------------------------------------------


@dataclass(frozen=True)
class FanoutResult:
    writer: WriterResult
    subscribers: list[SubscriberResult]
    server_cpu_share: float

    @property
    def latencies_ms(self) -> list[float]:
        return [value for result in self.subscribers for value in result.latencies_ms]

    @property
    def connected(self) -> int:
        return sum(result.connected for result in self.subscribers)

    @property
    def events(self) -> int:
        return sum(result.events for result in self.subscribers)


def measure_fanout(
    writer: WriterJob,
    subscriber_jobs: Sequence[Any],
    server_cpu: Callable[[], float],
    *,
    grace: float = 1.0,
    subscriber_entry: Callable[..., None] = run_subscribers,
) -> FanoutResult:
    """Start the subscriber processes, wait until their streams are open, then write.

    ``server_cpu`` reads the server's CPU seconds, to report its load while the writer runs.
    ``subscriber_entry(job, ready, stop, results)`` is each subscriber process's entry point
    (another server's streams need another client); it reports as ``run_subscribers`` does.
    """
    context: SpawnContext = multiprocessing.get_context("spawn")
    ready: Queue[Any] = context.Queue()
    results: Queue[Any] = context.Queue()
    start, stop = context.Event(), context.Event()
    processes: list[SpawnProcess] = [
        context.Process(target=subscriber_entry, args=(job, ready, stop, results))
        for job in subscriber_jobs
    ]
    processes.append(context.Process(target=run_writer, args=(writer, start, results)))
    try:
        for process in processes:
            process.start()
        for _ in subscriber_jobs:
            _get(ready, processes, timeout=CONNECT_TIMEOUT * 2)
        cpu_before, wall_before = server_cpu(), time.monotonic()
        start.set()
        collected = [_get(results, processes, timeout=writer.duration + CONNECT_TIMEOUT * 2)]
        cpu_share = (server_cpu() - cpu_before) / (time.monotonic() - wall_before)
        time.sleep(grace)  # the last updates reach the subscribers
        stop.set()
        collected += [_get(results, processes, timeout=CONNECT_TIMEOUT) for _ in subscriber_jobs]
    finally:
        stop.set()
        _end(processes)
    by_kind: dict[str, list[Any]] = {"writer": [], "subscribers": []}
    for kind, value in collected:
        by_kind[kind].append(value)
    return FanoutResult(by_kind["writer"][0], by_kind["subscribers"], cpu_share)


def _get(queue: Queue[Any], processes: list[SpawnProcess], *, timeout: float) -> Any:
    """The next item of ``queue``; fails at once when a process has died instead of waiting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=0.2)
        except queue_module.Empty:
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"a load process failed (exit codes {failed})") from None
    raise TimeoutError(f"no answer from the load processes within {timeout:.0f} s")


def _end(processes: list[SpawnProcess]) -> None:
    for process in processes:
        if process.pid is None:
            continue  # never started
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
