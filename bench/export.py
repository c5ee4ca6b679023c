"""Export memory against size: a server streaming a tenth of a million sessions, then all.

Run with ``make bench`` (or ``python bench/export.py --sessions 1000000``). One SQLite file
gets one project of ``--sessions`` sessions, seeded as ``bench/stats.py`` does (6 experiences,
so one experience is about a sixth of them). A real ``session-runtime serve`` process runs on
it; a client streams ``GET .../sessions:export`` (JSON lines, then CSV), counting the rows
and keeping none. After each export the server's peak resident memory (``VmHWM`` of
``/proc/PID/status``) is read: the baseline is the peak after exporting one experience, the
case the peak after exporting every session. Flat memory is a ratio near 1x, where an
export that held what it sent would grow with the count.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder holds bench/http.py, which would shadow the standard library's `http` (httpx
# imports it): put the folder last, as bench/http.py does.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402

from session_runtime import SYSTEM, SessionRuntime  # noqa: E402
from stats import Catalog, seed_sqlite  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def _owner_token(path: Path, catalog: Catalog) -> str:
    async def create() -> str:
        async with SessionRuntime.sqlite(path) as runtime:
            _, secret = await runtime.service.create_member_token(
                SYSTEM, catalog.project_id, user="bench", role="owner"
            )
            return secret

    return asyncio.run(create())


def _export(
    base_url: str, token: str, project_id: str, params: dict[str, str]
) -> tuple[int, float]:
    """Rows streamed and seconds taken; nothing kept."""
    started = time.perf_counter()
    rows = 0
    with (
        httpx.Client(base_url=base_url, timeout=120) as http,
        http.stream(
            "GET",
            f"/v1/projects/{project_id}/sessions:export",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            rows += bool(line)
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        path = Path(tmp) / "export.db"
        catalog = seed_sqlite(path, args.sessions)
        token = _owner_token(path, catalog)
        port = _free_port()
        env = {
            **os.environ,
            "SESSION_RUNTIME_STALE_AFTER_SECONDS": "0",
            "SESSION_RUNTIME_RATE_LIMIT_PER_SECOND": "0",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "session-runtime"), "serve",
                "--database", str(path), "--port", str(port),
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            idle = _memory_kib(server.pid, "VmRSS")
            cases = [
                ("one experience, JSON lines", {"experienceId": catalog.experience_ids[0]}),
                ("every session, JSON lines", {}),
                ("every session, CSV", {"format": "csv"}),
            ]
            figures = []
            for name, params in cases:
                rows, seconds = _export(base_url, token, catalog.project_id, params)
                if params.get("format") == "csv":
                    rows -= 1  # the header
                figures.append((name, rows, seconds, _memory_kib(server.pid, "VmHWM")))
                print(f"{name}: {rows:,} rows in {seconds:.1f} s", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)

    baseline = figures[0][3]
    print()
    print(f"{args.sessions:,} sessions; server resident memory when idle: {idle / 1024:.0f} MiB")
    print()
    print("| export | rows | seconds | rows/s | server peak RSS | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, rows, seconds, peak in figures:
        ratio = (
            "baseline" if peak == baseline and name == figures[0][0] else f"{peak / baseline:.2f}x"
        )
        print(
            f"| {name} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | "
            f"{peak / 1024:.0f} MiB | {ratio} |"
        )


if __name__ == "__main__":
    main()
