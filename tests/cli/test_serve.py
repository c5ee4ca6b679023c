"""The real ``session-runtime serve``, as a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

DEADLINE_SECONDS = 8.0


def command() -> list[str]:
    script = Path(sys.executable).parent / "session-runtime"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "session_runtime.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A running ``serve`` whose stdout lines are collected as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for_line(self, pattern: str, deadline: float) -> str:
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {self.stdout}") from None
            if line is None:
                raise AssertionError(f"serve ended early; it printed {self.stdout}")
            self.stdout.append(line)
            if re.search(pattern, line):
                return line


@contextmanager
def serving(database: Path, port: int) -> Iterator[Server]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SESSION_RUNTIME_") and name != "SENTRY_DSN"
    }
    process = subprocess.Popen(
        [*command(), "serve", "--port", str(port), "--database", str(database)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=database.parent,
    )
    server = Server(process)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.reader.join(timeout=2)
        assert process.stdout is not None
        process.stdout.close()


def wait_until_healthy(url: str, deadline: float) -> None:
    with httpx.Client(timeout=1.0) as client:
        while True:
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server never answered /healthz"
            time.sleep(0.05)


def test_serve_prints_working_demo_tokens_on_first_start_only(tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    database = tmp_path / "x.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    with serving(database, port) as server:
        owner_line = server.wait_for_line(r"owner token", deadline)
        guest_line = server.wait_for_line(r"guest token", deadline)
        served = server.wait_for_line(r"^Serving ", deadline)
        assert f"{url} (the dashboard at {url}/, API docs at {url}/docs)" in served
        wait_until_healthy(url, deadline)
        owner = re.search(r"srt_\S+", owner_line)
        guest = re.search(r"srt_\S+", guest_line)
        assert owner is not None and guest is not None
        with httpx.Client(base_url=url, timeout=2.0) as client:
            me = client.get("/v1/me", headers={"Authorization": f"Bearer {owner.group()}"})
            assert me.status_code == 200
            assert me.json()["kind"] == "member" and me.json()["role"] == "owner"
            guest_me = client.get("/v1/me", headers={"Authorization": f"Bearer {guest.group()}"})
            assert guest_me.json()["kind"] == "guest"
            assert client.get("/v1/me").status_code == 401
    assert server.process.returncode is not None

    with serving(database, port) as again:
        again.wait_for_line(r"^Serving ", deadline)
        assert again.stdout == [
            f"Serving {database} on {url} (the dashboard at {url}/, API docs at {url}/docs)"
        ]
