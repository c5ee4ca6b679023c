"""Throughput workloads through Debian's ``wrk``, the same load generator for both servers.

Each workload is a Lua script written into a temporary folder: ``request()`` builds the next
request (a create, or a progress update cycling over the seeded sessions, each wrk thread
starting at its own place in the cycle), and ``done()`` prints one line of JSON with the
counts and latency percentiles, which is parsed here. Non-2xx answers count as errors (wrk's
``status`` errors count answers >= 400; both servers answer 200 or 201 on success, and
neither redirects). No ``response()`` callback: it would make wrk hand every answer to Lua.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK = "/usr/bin/wrk"
_MARK = "WRK_JSON "

_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""

_COMMON = r"""
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}
local next_index = 0
function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
end
"""

_CREATE = r"""
local body = [==[%(body)s]==]
function request()
  return wrk.format("POST", "%(path)s", headers, body)
end
"""

# Each thread got its own index in setup(); init() starts its counter at its own place.
_UPDATE = r"""
local paths = {%(paths)s}
local counter = 0
function init(args)
  counter = (thread_index or 0) * 7919
end
function request()
  counter = counter + 1
  local body = string.format('{"currentStepIndex":%%d,"inputs":{"lastAnswer":%%d}}',
    counter %% 7, counter)
  return wrk.format("PATCH", paths[counter %% #paths + 1], headers, body)
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_share: float = 0.0

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def create_script(token: str, path: str, body: bytes) -> str:
    """Lua for ``wrk``: POST the same new-session body to ``path`` again and again."""
    return _COMMON % {"token": token} + _CREATE % {"path": path, "body": body.decode()} + _DONE


def update_script(token: str, paths: list[str]) -> str:
    """Lua for ``wrk``: PATCH a step and one input, cycling over ``paths``."""
    listed = ",".join(json.dumps(path) for path in paths)
    return _COMMON % {"token": token} + _UPDATE % {"paths": listed} + _DONE


def run_wrk(
    port: int, script: str, *, connections: int, seconds: float, threads: int = 2
) -> WrkResult:
    """Run ``wrk`` against 127.0.0.1:``port`` with ``script`` and parse its summary."""
    if shutil.which(WRK) is None:
        raise SystemExit(f"{WRK} is missing (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script_path = Path(folder) / "workload.lua"
        script_path.write_text(script)
        completed = subprocess.run(
            [
                WRK,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                str(script_path),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    for line in completed.stdout.splitlines():
        if line.startswith(_MARK):
            found = json.loads(line[len(_MARK) :])
            break
    else:
        raise RuntimeError(f"wrk printed no summary: {completed.stdout}\n{completed.stderr}")
    errors = sum(found[key] for key in ("connect", "read", "write", "timeout", "status"))
    return WrkResult(
        requests=found["requests"],
        seconds=found["duration_us"] / 1e6,
        errors=errors,
        p50_ms=found["p50_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
        max_ms=found["max_us"] / 1000,
    )
