"""One node at scale: 10,000 idle SSE streams and 10,000 WebSocket subscriptions at once.

Run with ``make bench-peers`` (after ``bench/peers.py``) or ``python bench/scale.py
[--quick]``. One fresh server of ours (as ``bench/peers.py`` starts it: ``synchronous=FULL``,
rate limit and subscription caps off) on ``--sessions`` seeded sessions, every one read once.
Then, each group in processes of its own and the server's VmRSS read after each:

1. ``--ws-connections`` WebSocket connections, each subscribed to its share of the sessions
   (10 x 1,000 by default), every subscription holding its first snapshot: memory per
   subscription on a shared connection;
2. one SSE stream per session: memory per stream;
3. with both open, a writer sends ``--rate`` paced updates/s carrying ``sentAt`` over every
   session for ``--seconds``; each update reaches one SSE stream and one WebSocket
   subscription: latency (p50, p99, max) and how many of the updates each side received.

The benchmark raises its own processes' open-files limit to the hard limit (``resource``), as the
server's launcher does; the server's defaults do not change. A user does the same with
``ulimit -n`` or systemd's ``LimitNOFILE=``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import queue as queue_module  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from multiprocessing.context import SpawnContext, SpawnProcess  # noqa: E402
from multiprocessing.queues import Queue  # noqa: E402
from multiprocessing.synchronize import Event  # noqa: E402
from typing import Any  # noqa: E402

from httpbench_client import raise_open_files_limit  # noqa: E402
from httpbench_load import (  # noqa: E402
    CONNECT_TIMEOUT,
    SubscriberResult,
    WriterJob,
    WriterResult,
    percentile,
    run_writer,
)
from peers_live import PeerSubscriberJob, run_peer_subscribers, warm_up  # noqa: E402
from peers_servers import Peer, start_ours  # noqa: E402
from scale_websocket import WebSocketJob, run_websocket_subscribers  # noqa: E402

SSE_PROCESSES = 4
WS_PROCESSES = 2
TARGET_P99_MS = 20.0
TARGET_WS_KB = 2.0


@dataclass(frozen=True)
class Shape:
    sessions: int
    ws_connections: int
    rate: float
    seconds: float


FULL = Shape(10_000, 10, 1000.0, 10.0)
QUICK = Shape(1_000, 2, 200.0, 3.0)


class ProcessGroup:
    """Load processes started together, each reporting ready once, then one result."""

    def __init__(self, context: SpawnContext, target: Any, jobs: list[Any]) -> None:
        self.ready: Queue[Any] = context.Queue()
        self.results: Queue[Any] = context.Queue()
        self.stop: Event = context.Event()
        self.processes: list[SpawnProcess] = [
            context.Process(target=target, args=(job, self.ready, self.stop, self.results))
            for job in jobs
        ]
        for process in self.processes:
            process.start()

    def wait_ready(self, timeout: float) -> int:
        """The total each process reported when ready (streams or subscriptions open)."""
        return sum(self._get(self.ready, timeout) for _ in self.processes)

    def collect(self, timeout: float) -> list[Any]:
        self.stop.set()
        return [self._get(self.results, timeout)[1] for _ in self.processes]

    def _get(self, queue: Queue[Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return queue.get(timeout=0.2)
            except queue_module.Empty:
                failed = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"a load process failed (exit codes {failed})") from None
        raise TimeoutError(f"no answer from the load processes within {timeout:.0f} s")

    def end(self) -> None:
        self.stop.set()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def _write(peer: Peer, shape: Shape, context: SpawnContext) -> WriterResult:
    job = WriterJob(
        peer.port,
        peer.token,
        peer.record_paths,
        shape.rate,
        shape.seconds,
        connections=64,
        give_up_after=shape.seconds * 2,
    )
    start = context.Event()
    results: Queue[Any] = context.Queue()
    writer = context.Process(target=run_writer, args=(job, start, results))
    writer.start()
    try:
        start.set()
        kind, result = results.get(timeout=shape.seconds * 2 + CONNECT_TIMEOUT * 3)
        if kind != "writer" or not isinstance(result, WriterResult):
            raise RuntimeError(f"the writer process answered {kind!r}")
        return result
    finally:
        writer.join(timeout=10)
        if writer.is_alive():
            writer.terminate()


def _row(name: str, value: str, target: str = "", is_met: bool | None = None) -> str:
    met = "" if is_met is None else ("yes" if is_met else "**no**")
    return f"| {name} | {value} | {target} | {met} |"


def _latency_rows(name: str, results: list[SubscriberResult], written: WriterResult) -> list[str]:
    latencies = [value for result in results for value in result.latencies_ms]
    received = sum(result.events for result in results)
    acknowledged = written.sent - written.errors
    p99 = percentile(latencies, 99)
    return [
        _row(
            f"write -> {name}: p50 / p99 / max",
            f"{percentile(latencies, 50):.1f} / {p99:.1f} / "
            f"{max(latencies, default=float('nan')):.1f} ms",
            f"p99 < {TARGET_P99_MS:g} ms",
            p99 < TARGET_P99_MS,
        ),
        _row(
            f"updates delivered to {name}",
            f"{received:,} of {acknowledged:,}",
            "every one",
            received >= acknowledged,
        ),
    ]


def measure(peer: Peer, shape: Shape) -> list[str]:
    context = multiprocessing.get_context("spawn")
    warm_up(peer)
    rows: list[str] = []
    baseline = peer.process.settled_rss_kb()
    per_connection = -(-shape.sessions // shape.ws_connections)
    chunks = [
        peer.record_paths[start : start + per_connection]
        for start in range(0, shape.sessions, per_connection)
    ]
    ws_jobs = [
        WebSocketJob(peer.port, peer.token, chunks[part::WS_PROCESSES], shape.seconds + 240)
        for part in range(WS_PROCESSES)
    ]
    sse_jobs = [
        PeerSubscriberJob(
            "ours",
            peer.port,
            peer.token,
            peer.subscribe_targets[part::SSE_PROCESSES],
            shape.seconds + 240,
        )
        for part in range(SSE_PROCESSES)
    ]
    websockets = ProcessGroup(context, run_websocket_subscribers, ws_jobs)
    streams: ProcessGroup | None = None
    try:
        subscribed = websockets.wait_ready(CONNECT_TIMEOUT * 4)
        with_ws = peer.process.settled_rss_kb()
        ws_kb = (with_ws - baseline) / max(1, subscribed)
        rows.append(
            _row(
                f"server memory per WebSocket subscription ({subscribed:,} on "
                f"{len(chunks)} connections)",
                f"{ws_kb:.2f} KB",
                f"<= {TARGET_WS_KB:g} KB",
                ws_kb <= TARGET_WS_KB,
            )
        )
        streams = ProcessGroup(context, run_peer_subscribers, sse_jobs)
        opened = streams.wait_ready(CONNECT_TIMEOUT * 8)
        with_sse = peer.process.settled_rss_kb()
        rows.append(
            _row(
                f"server memory per idle SSE stream ({opened:,} streams)",
                f"{(with_sse - with_ws) / max(1, opened):.1f} KB",
            )
        )
        cpu_before, wall_before = peer.process.cpu_seconds(), time.monotonic()
        written = _write(peer, shape, context)
        cores = (peer.process.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
        time.sleep(2.0)  # the last updates reach the subscribers
        sse_results: list[SubscriberResult] = streams.collect(CONNECT_TIMEOUT * 2)
        ws_results: list[SubscriberResult] = websockets.collect(CONNECT_TIMEOUT * 2)
    finally:
        websockets.end()
        if streams is not None:
            streams.end()
    rows += _latency_rows("SSE streams", sse_results, written)
    rows += _latency_rows("WebSocket subscriptions", ws_results, written)
    rows.append(
        _row(
            "writer",
            f"{written.sent:,} updates at {written.rate:,.0f}/s, {written.errors} errors, "
            f"PATCH p99 {percentile(written.response_ms, 99):.1f} ms, pacing lag up to "
            f"{written.max_lag_ms:.0f} ms; server CPU {cores:.2f} cores; VmRSS "
            f"{baseline / 1024:.1f} -> {with_ws / 1024:.1f} (WebSocket) -> "
            f"{with_sse / 1024:.1f} MiB (SSE)",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sessions, a short run")
    args = parser.parse_args()
    shape = QUICK if args.quick else FULL
    started = time.perf_counter()
    limit = raise_open_files_limit()
    needed = shape.sessions * 2 + 500
    if limit < needed // 2:
        raise SystemExit(f"the open-files limit is {limit}; raise it (ulimit -n {needed})")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        peer = start_ours(Path(folder), shape.sessions)
        try:
            rows = measure(peer, shape)
        finally:
            peer.process.stop()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(
        f"command: python bench/scale.py {' '.join(sys.argv[1:])}\n"
        f"one server of ours on {shape.sessions:,} sessions; {SSE_PROCESSES} SSE and "
        f"{WS_PROCESSES} WebSocket subscriber processes, one writer process (64 connections); "
        f"open-files limit of the benchmark's processes {soft:,} (hard {hard:,})\n"
    )
    print("| measurement | result | target | met |\n| --- | --- | --- | --- |")
    for row in rows:
        print(row)
    print(f"\ntotal run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
