"""The HTTP server under load: throughput, write-to-subscriber latency, memory per SSE stream.

Run with ``make bench`` (or ``python bench/http.py``; ``--quick`` for a small, fast run). One
run seeds a fresh SQLite file (sessions created by the service in this process), starts
``create_app(settings)`` under uvicorn (uvloop, httptools) in a process of its own on
127.0.0.1, measures, prints one markdown table and stops the server. Load comes from a minimal
HTTP/1.1 client on asyncio (``httpbench_client.py``), never from the server's process.

1. Throughput: ``--connections`` keep-alive connections, one request in flight on each, for
   ``--duration`` seconds after a one-second warm-up: first ``GET /healthz`` (the cheapest route
   of the same app), then ``PATCH /v1/projects/{p}/sessions/{s}`` (``currentStepIndex`` and one
   ``inputs`` key) spread over every seeded session. The ratio PATCH / healthz is the figure.
2. Write-to-subscriber latency: subscriber processes hold SSE streams, and a writer process
   sends paced PATCHes carrying ``inputs.sentAt = time.time_ns()``, taken just before the
   request is written; a subscriber subtracts it from the time the snapshot's bytes arrived.
   (a) ``--subscribers`` streams, one per session, while ``--rate`` updates/s go to those
   sessions; (b) ``--hot-subscribers`` streams on one session receiving ``--hot-rate`` updates/s.
   A subscriber may skip versions (the server coalesces for slow readers): the latency is that
   of the snapshots it does receive, and the table says what share of updates arrived.
3. Memory per idle SSE subscriber: the server's ``VmRSS`` (median of five readings after a
   second of quiet) after a warm-up that reads every session once, then with ``--idle`` streams
   open, each having received its first snapshot; the difference divided by the streams. This
   runs first, before the other phases have grown the server's heap.
4. Memory per WebSocket subscription: on a fresh server (same database, same warm-up), two
   connections subscribe to ``--ws-subscriptions`` sessions between them, each subscription
   open once its first snapshot has arrived; the rise of ``VmRSS`` divided by the
   subscriptions.

A full run takes about a minute, ``--quick`` about twenty seconds. The machine's CPUs are shared
by the server and the load processes: the table shows how busy each was.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As a script, this file's folder comes first on sys.path, where this file would shadow the
# standard library's `http` package (which uvicorn and starlette import). Move the folder last:
# the standard library wins and the helper modules beside this file still import.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, fields, replace  # noqa: E402
from importlib.metadata import version  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402

from httpbench_client import (  # noqa: E402
    HttpConnection,
    build_request,
    raise_open_files_limit,
    run_async,
)
from httpbench_load import (  # noqa: E402
    FanoutResult,
    LoadResult,
    SubscriberJob,
    WriterJob,
    closed_loop,
    measure_fanout,
    open_streams,
    percentile,
    progress_body,
)
from httpbench_server import BenchData, ServerProcess, seed_database, server_settings  # noqa: E402
from scale_websocket import subscribe_all  # noqa: E402
from session_runtime.settings import Settings  # noqa: E402

SUBSCRIBER_PROCESSES = 2
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
TARGET_KB_PER_STREAM = 20.0
TARGET_KB_PER_SUBSCRIPTION = 2.0
WEBSOCKET_CONNECTIONS = 2


@dataclass(frozen=True)
class Profile:
    duration: float
    connections: int
    subscribers: int
    rate: float
    hot_subscribers: int
    hot_rate: float
    idle: int
    ws_subscriptions: int


FULL = Profile(10.0, 32, 1000, 500.0, 200, 100.0, 2000, 2000)
QUICK = Profile(2.0, 8, 100, 100.0, 20, 50.0, 200, 200)


@dataclass(frozen=True)
class Row:
    measurement: str
    value: str
    target: str = ""
    is_met: bool | None = None
    detail: str = ""


def parse_profile() -> Profile:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small, fast configuration")
    parser.add_argument("--duration", type=float, help="seconds per phase [10]")
    parser.add_argument("--connections", type=int, help="keep-alive connections [32]")
    parser.add_argument("--subscribers", type=int, help="SSE streams, one per session [1000]")
    parser.add_argument("--rate", type=float, help="updates/s over those sessions [500]")
    parser.add_argument("--hot-subscribers", type=int, help="SSE streams on one session [200]")
    parser.add_argument("--hot-rate", type=float, help="updates/s to that session [100]")
    parser.add_argument("--idle", type=int, help="idle SSE streams for the memory figure [2000]")
    parser.add_argument(
        "--ws-subscriptions", type=int, help="WebSocket subscriptions on 2 connections [2000]"
    )
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    given = {f.name: getattr(args, f.name) for f in fields(Profile)}
    return replace(profile, **{name: value for name, value in given.items() if value is not None})


# -- phases -------------------------------------------------------------------------------


async def _get_each(server: ServerProcess, data: BenchData, connections: int = 8) -> None:
    lanes = [
        [
            build_request("GET", data.session_path(s), port=server.port, token=data.token)
            for s in data.session_ids[lane::connections]
        ]
        for lane in range(connections)
    ]

    async def lane(cycle: list[bytes]) -> None:
        connection = await HttpConnection.open(server.port)
        try:
            for request in cycle:
                await connection.send(request)
        finally:
            await connection.close()

    async with asyncio.timeout(60):
        await asyncio.gather(*(lane(cycle) for cycle in lanes if cycle))


async def _open_and_close(server: ServerProcess, data: BenchData, streams: int) -> None:
    paths = [data.session_path(s) + "/events" for s in data.session_ids[:streams]]
    async with asyncio.timeout(60):
        opened, _ = await open_streams(server.port, data.token, paths)
    await asyncio.gather(*(stream.close() for stream, _ in opened))


def warm_up(server: ServerProcess, data: BenchData) -> None:
    """Read every session once (caches fill) and open and close a few streams."""
    run_async(lambda: _get_each(server, data))
    run_async(lambda: _open_and_close(server, data, 50))
    time.sleep(0.5)


async def _open_sse_count(port: int) -> int:
    """The server's own count of open SSE subscriptions (``/metrics``); -1 when not found."""
    async with asyncio.timeout(10):
        connection = await HttpConnection.open(port)
        try:
            _, body = await connection.send(build_request("GET", "/metrics", port=port))
        finally:
            await connection.close()
    found = re.search(rb'session_runtime_subscriptions_open\{transport="sse"\} ([0-9.e+]+)', body)
    return int(float(found.group(1))) if found else -1


async def _idle_memory(server: ServerProcess, data: BenchData, idle: int) -> Row:
    before = await asyncio.to_thread(server.settled_rss_kb)
    paths = [data.session_path(s) + "/events" for s in data.session_ids[:idle]]
    async with asyncio.timeout(120):
        opened, failed = await open_streams(server.port, data.token, paths)
    try:
        during = await asyncio.to_thread(server.settled_rss_kb)
        counted = await _open_sse_count(server.port)
    finally:
        await asyncio.gather(*(stream.close() for stream, _ in opened))
    after_close = await asyncio.to_thread(server.settled_rss_kb)
    left_open = await _open_sse_count(server.port)
    per_stream = (during - before) / max(1, len(opened))
    return Row(
        f"server memory per idle SSE subscriber ({idle:,} streams)",
        f"{per_stream:.1f} KB",
        f"<= {TARGET_KB_PER_STREAM:.0f} KB",
        per_stream <= TARGET_KB_PER_STREAM,
        f"VmRSS {before:,} -> {during:,} KiB, {after_close:,} KiB after closing them; "
        f"{len(opened):,} open ({failed} failed); the server counted {counted:,} open, "
        f"then {left_open:,} after they closed",
    )


def measure_memory(server: ServerProcess, data: BenchData, profile: Profile) -> Row:
    return run_async(lambda: _idle_memory(server, data, profile.idle))


async def _websocket_memory(server: ServerProcess, data: BenchData, count: int) -> Row:
    paths = [data.session_path(s) for s in data.session_ids[:count]]
    groups = [paths[index::WEBSOCKET_CONNECTIONS] for index in range(WEBSOCKET_CONNECTIONS)]
    url = f"ws://127.0.0.1:{server.port}/v1/ws"
    headers = {"Authorization": f"Bearer {data.token}"}
    connections = [
        await connect(url, additional_headers=headers, max_size=None, ping_interval=None)
        for _ in groups
    ]
    try:
        before = await asyncio.to_thread(server.settled_rss_kb)
        async with asyncio.timeout(120):
            subscribing = map(subscribe_all, connections, groups)
            opened = sum(await asyncio.gather(*subscribing))
        during = await asyncio.to_thread(server.settled_rss_kb)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    per_subscription = (during - before) / max(1, opened)
    return Row(
        f"server memory per WebSocket subscription ({opened:,} on {len(groups)} connections)",
        f"{per_subscription:.2f} KB",
        f"<= {TARGET_KB_PER_SUBSCRIPTION:.0f} KB",
        per_subscription <= TARGET_KB_PER_SUBSCRIPTION,
        f"VmRSS {before:,} -> {during:,} KiB; a fresh server, warmed up as for the streams",
    )


def measure_websocket_memory(settings: Settings, data: BenchData, profile: Profile) -> Row:
    """On a server of its own: the SSE phase's freed memory would be reused otherwise."""
    server = ServerProcess(settings)
    try:
        server.wait_until_healthy()
        warm_up(server, data)
        return run_async(lambda: _websocket_memory(server, data, profile.ws_subscriptions))
    finally:
        server.stop()


def _patch_cycles(server: ServerProcess, data: BenchData, connections: int) -> list[list[bytes]]:
    def patch(index: int, session_id: str) -> bytes:
        body = progress_body(index % 7, b'{"lastAnswer":%d}' % index)
        path = data.session_path(session_id)
        return build_request("PATCH", path, port=server.port, token=data.token, body=body)

    return [
        [patch(index, s) for index, s in enumerate(data.session_ids[lane::connections])]
        for lane in range(connections)
    ]


def _closed_loop_row(
    name: str, server: ServerProcess, requests: list[list[bytes]], duration: float
) -> tuple[Row, LoadResult]:
    cpu_before = server.cpu_seconds()
    result = run_async(lambda: closed_loop(server.port, requests, duration=duration, warmup=1.0))
    server_cpu = server.cpu_seconds() - cpu_before
    detail = (
        f"p50 {percentile(result.latencies_ms, 50):.1f} ms, "
        f"p99 {percentile(result.latencies_ms, 99):.1f} ms, {result.errors} errors; "
        f"server CPU {server_cpu / result.wall_seconds:.0%} "
        f"({server_cpu / result.all_requests * 1e6:.0f} us per request), load generator CPU "
        f"{result.client_cpu_seconds / result.wall_seconds:.0%}"
    )
    return Row(name, f"{result.rate:,.0f} req/s", detail=detail), result


def measure_throughput(server: ServerProcess, data: BenchData, profile: Profile) -> list[Row]:
    connections = profile.connections
    health = [[build_request("GET", "/healthz", port=server.port, token=data.token)]]
    health_row, healthz = _closed_loop_row(
        f"GET /healthz, {connections} connections", server, health * connections, profile.duration
    )
    patch_row, patch = _closed_loop_row(
        f"PATCH session progress over {len(data.session_ids):,} sessions, "
        f"{connections} connections",
        server,
        _patch_cycles(server, data, connections),
        profile.duration,
    )
    ratio = patch.rate / healthz.rate
    ratio_row = Row(
        "PATCH / healthz throughput", f"{ratio:.2f}x", f">= {TARGET_RATIO}x", ratio >= TARGET_RATIO
    )
    return [health_row, patch_row, ratio_row]


def _subscriber_jobs(
    server: ServerProcess, data: BenchData, paths: list[str], max_seconds: float
) -> list[SubscriberJob]:
    count = min(SUBSCRIBER_PROCESSES, len(paths))
    return [
        SubscriberJob(server.port, data.token, paths[part::count], max_seconds)
        for part in range(count)
    ]


def _latency_row(name: str, result: FanoutResult, fanout: int) -> Row:
    latencies = result.latencies_ms
    p99 = percentile(latencies, 99)
    writer = result.writer
    expected = writer.sent * fanout
    detail = (
        f"max {max(latencies, default=float('nan')):.1f} ms; {writer.sent:,} updates at "
        f"{writer.rate:,.0f}/s ({writer.errors} errors, PATCH p50 "
        f"{percentile(writer.response_ms, 50):.1f} / p99 {percentile(writer.response_ms, 99):.1f}"
        f" ms, pacing lag up to {writer.max_lag_ms:.0f} ms); {result.events:,} snapshots "
        f"received = {result.events / max(1, expected):.1%} of updates x subscribers; "
        f"{result.connected:,} streams open; server CPU {result.server_cpu_share:.0%}"
    )
    return Row(
        name,
        f"p50 {percentile(latencies, 50):.1f} ms, p99 {p99:.1f} ms",
        f"p99 < {TARGET_P99_MS:.0f} ms",
        p99 < TARGET_P99_MS,
        detail,
    )


def measure_spread_latency(server: ServerProcess, data: BenchData, profile: Profile) -> Row:
    sessions = data.session_ids[: profile.subscribers]
    paths = [data.session_path(s) for s in sessions]
    writer = WriterJob(server.port, data.token, paths, profile.rate, profile.duration)
    jobs = _subscriber_jobs(server, data, [p + "/events" for p in paths], profile.duration + 90)
    result = measure_fanout(writer, jobs, server.cpu_seconds)
    name = (
        f"write -> SSE subscriber: {len(sessions):,} subscribers, one per session, "
        f"{profile.rate:,.0f} updates/s spread over them"
    )
    return _latency_row(name, result, fanout=1)


def measure_hot_latency(server: ServerProcess, data: BenchData, profile: Profile) -> Row:
    path = data.session_path(data.hot_session_id)
    writer = WriterJob(server.port, data.token, [path], profile.hot_rate, profile.duration)
    paths = [path + "/events"] * profile.hot_subscribers
    jobs = _subscriber_jobs(server, data, paths, profile.duration + 90)
    result = measure_fanout(writer, jobs, server.cpu_seconds)
    name = (
        f"write -> SSE subscriber: {profile.hot_subscribers:,} subscribers on one session, "
        f"{profile.hot_rate:,.0f} updates/s to it"
    )
    return _latency_row(name, result, fanout=profile.hot_subscribers)


# -- the report ---------------------------------------------------------------------------


def _filesystem(path: Path) -> str:
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        mount_point, fs_type = line.split()[1:3]
        if str(path).startswith(mount_point) and len(mount_point) > len(best):
            best, kind = mount_point, fs_type
    return kind


def print_report(settings: Settings, profile: Profile, rows: list[Row], seconds: float) -> None:
    shown = ", ".join(f"{key}={value}" for key, value in settings.model_dump().items())
    print(
        f"server: uvicorn {version('uvicorn')} (uvloop {version('uvloop')}, httptools "
        f"{version('httptools')}), one process, log_level=warning; Python "
        f"{platform.python_version()}; {os.cpu_count()} CPUs shared by server and load"
    )
    print(f"settings: {shown} (database on {_filesystem(settings.database_path)})")
    print(
        f"load: {profile.duration:g} s per phase, {SUBSCRIBER_PROCESSES} subscriber processes "
        "and one writer process (16 connections) for the latency figures\n"
    )
    print("| measurement | result | target | met | detail |")
    print("| --- | ---: | --- | --- | --- |")
    for row in rows:
        met = "" if row.is_met is None else ("yes" if row.is_met else "**no**")
        print(f"| {row.measurement} | {row.value} | {row.target} | {met} | {row.detail} |")
    print(f"\ntotal run time: {seconds:.0f} s")


def _progress(phase: str) -> None:
    print(f"bench/http.py: {phase} ({time.strftime('%H:%M:%S')})", file=sys.stderr, flush=True)


def run_phases(server: ServerProcess, data: BenchData, profile: Profile) -> list[Row]:
    _progress("warm-up")
    warm_up(server, data)
    phases: list[tuple[str, Callable[[], list[Row]]]] = [
        ("memory per idle stream", lambda: [measure_memory(server, data, profile)]),
        ("throughput", lambda: measure_throughput(server, data, profile)),
        ("latency, spread", lambda: [measure_spread_latency(server, data, profile)]),
        ("latency, one hot session", lambda: [measure_hot_latency(server, data, profile)]),
    ]
    rows: list[Row] = []
    for name, phase in phases:
        _progress(name)
        rows += phase()
    return rows


def main() -> None:
    started = time.perf_counter()
    profile = parse_profile()
    raise_open_files_limit()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as folder:
        settings = server_settings(Path(folder))
        data = seed_database(
            settings, max(profile.subscribers, profile.idle, profile.ws_subscriptions)
        )
        server = ServerProcess(settings)
        try:
            server.wait_until_healthy()
            rows = run_phases(server, data, profile)
        finally:
            server.stop()
        _progress("memory per WebSocket subscription")
        rows.append(measure_websocket_memory(settings, data, profile))
    print_report(settings, profile, rows, time.perf_counter() - started)


if __name__ == "__main__":
    main()
