"""Where our server's time goes under the create load: py-spy on the server process.

``python bench/peers.py --profile`` starts ours alone, runs the create workload through wrk
and, meanwhile, ``py-spy record --format raw`` samples the server (every thread, on-CPU samples
only). The collapsed stacks are summed here into two tables: the share of samples in which a
function is on the stack (inclusive), and the share of samples spent in each package's own
code (the leaf frame, by where its file lives), which is what a change can save.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from peers_servers import Peer
from peers_wrk import WrkResult, create_script, run_wrk

SAMPLE_RATE = 200

# Leaf frames grouped by where their code lives, most specific first.
_PACKAGES = [
    ("uvicorn access log", ("logging/__init__.py", "uvicorn/logging.py")),
    ("uvicorn (HTTP parsing, protocol)", ("uvicorn/",)),
    ("FastAPI / Starlette (middleware, routing, dependencies)", ("fastapi/", "starlette/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("session_runtime.storage", ("session_runtime/storage/",)),
    ("session_runtime.api", ("session_runtime/api/",)),
    ("session_runtime (service, domain, realtime)", ("session_runtime/",)),
    ("asyncio / uvloop event loop", ("asyncio/", "uvloop/")),
    ("sqlite3", ("sqlite3/",)),
]


def py_spy() -> Path:
    binary = Path(sys.executable).parent / "py-spy"
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: `make bench-peers` installs it")
    return binary


def _frame_name(frame: str) -> str:
    """``handle (uvicorn/protocols/http/httptools_impl.py:412)`` -> without the line."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "/src/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def _package(frame: str) -> str:
    for label, markers in _PACKAGES:
        if any(marker in frame for marker in markers):
            return label
    return "other (C code without a Python frame, builtins)"


@dataclass(frozen=True)
class Profile:
    """Samples per thread; the event-loop thread's time by package and by function."""

    seconds: float
    threads: list[tuple[str, int]]
    loop_samples: int
    own_by_package: list[tuple[str, float]]
    inclusive: list[tuple[str, float]]


def summarize(raw: str, *, seconds: float) -> Profile:
    """Sum py-spy's collapsed stacks (``thread (id): name;frame;...;frame count`` lines)."""
    per_thread: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")
        name = thread.split(": ", 1)[-1]
        per_thread[name] += count
        if name != "MainThread" or not frames:
            continue
        names = [_frame_name(frame) for frame in frames]
        for function in set(names):
            inclusive[function] += count
        own[_package(frames[-1])] += count
    loop = max(1, per_thread["MainThread"])
    return Profile(
        seconds=seconds,
        threads=per_thread.most_common(),
        loop_samples=per_thread["MainThread"],
        own_by_package=[(name, count / loop) for name, count in own.most_common()],
        inclusive=[(name, count / loop) for name, count in inclusive.most_common(40)],
    )


def profile_seconds(load_seconds: float) -> int:
    """py-spy records a second less than the load runs, so it samples only under load."""
    return max(1, int(load_seconds) - 1)


def profile_creates(peer: Peer, *, connections: int, seconds: float) -> tuple[WrkResult, str]:
    """Run the create load while py-spy samples the server; the load's result and the stacks."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        output = Path(folder) / "stacks.txt"
        recorder = subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(peer.process.pid),
                "--duration",
                f"{profile_seconds(seconds)}",
                "--rate",
                str(SAMPLE_RATE),
                "--format",
                "raw",
                "--nonblocking",
                "--threads",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        results: list[WrkResult] = []
        load = threading.Thread(
            target=lambda: results.append(
                run_wrk(
                    peer.port,
                    create_script(peer.token, peer.create_path, peer.create_body),
                    connections=connections,
                    seconds=seconds,
                )
            )
        )
        load.start()
        load.join(timeout=seconds + 90)
        recorder.wait(timeout=60)
        raw = output.read_text() if output.exists() else ""
    if not results:
        raise RuntimeError("the create load did not finish")
    return results[0], raw


def print_profile(result: WrkResult, raw: str, *, seconds: float) -> None:
    profile = summarize(raw, seconds=seconds)
    possible = SAMPLE_RATE * seconds
    print(
        f"create load: {result.rate:,.0f} creates/s, p99 {result.p99_ms:.1f} ms, "
        f"{result.errors} errors; py-spy at {SAMPLE_RATE}/s for {seconds:g} s, on-CPU samples "
        "only, per thread: "
        + ", ".join(
            f"{name} {count:,} ({count / possible:.0%} of the time)"
            for name, count in profile.threads
        )
        + "\n"
    )
    print("| the event-loop thread's own time in | share of its samples |\n| --- | ---: |")
    for name, share in profile.own_by_package:
        print(f"| {name} | {share:.1%} |")
    print("\n| function on the event-loop thread's stack | share of its samples |")
    print("| --- | ---: |")
    for name, share in profile.inclusive:
        if share < 0.03:
            break
        print(f"| `{name}` | {share:.1%} |")
