"""The real ``session-runtime serve``, as a subprocess on 127.0.0.1."""

from __future__ import annotations

import contextlib
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
import pytest

from session_runtime import SYSTEM

from .conftest import Cli, on_service

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


def clean_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SESSION_RUNTIME_") and name != "SENTRY_DSN"
    }


def serve_command(database: Path, port: int) -> list[str]:
    return [*command(), "serve", "--port", str(port), "--database", str(database)]


@contextmanager
def serving(database: Path, port: int, *, stderr: Path | None = None) -> Iterator[Server]:
    """``serve`` on ``database`` and ``port``; stopped with SIGINT at the end if still running.

    ``stderr``: a file to collect its log in (default: dropped).
    """
    with contextlib.ExitStack() as files:
        errors = (
            subprocess.DEVNULL
            if stderr is None
            else files.enter_context(stderr.open("w", encoding="utf-8"))
        )
        process = subprocess.Popen(
            serve_command(database, port),
            stdout=subprocess.PIPE,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            text=True,
            env=clean_environment(),
            cwd=database.parent,
        )
        with _stopped_at_the_end(process) as server:
            yield server


@contextmanager
def _stopped_at_the_end(process: subprocess.Popen[str]) -> Iterator[Server]:
    server = Server(process)
    try:
        yield server
    finally:
        if process.poll() is None:
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

    deadline = time.monotonic() + DEADLINE_SECONDS
    with serving(database, port) as again:
        again.wait_for_line(r"^Serving ", deadline)
        assert again.stdout == [
            f"Serving {database} on {url} (the dashboard at {url}/, API docs at {url}/docs)"
        ]


def run_to_the_end(database: Path, port: int) -> subprocess.CompletedProcess[str]:
    """A ``serve`` expected to refuse at once: its exit code, stdout and stderr."""
    return subprocess.run(
        serve_command(database, port),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_environment(),
        cwd=database.parent if database.parent.exists() else None,
        timeout=DEADLINE_SECONDS * 4,
        check=False,
    )


def start_and_wait(server: Server, url: str, deadline: float) -> str:
    """Wait until ``server`` serves; the owner token it printed."""
    owner_line = server.wait_for_line(r"owner token", deadline)
    server.wait_for_line(r"^Serving ", deadline)
    wait_until_healthy(url, deadline)
    owner = re.search(r"srt_\S+", owner_line)
    assert owner is not None
    return owner.group()


def test_a_second_server_on_the_same_file_refuses_and_names_the_first(
    tmp_path: Path, cli: Cli
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    database = tmp_path / "x.db"
    first_port, second_port = free_port(), free_port()
    first_url = f"http://127.0.0.1:{first_port}"

    with serving(database, first_port) as first:
        owner = start_and_wait(first, first_url, deadline)

        for port in (second_port, first_port):  # another port, and `make serve` twice
            second = run_to_the_end(database, port)
            assert second.returncode == 1, second
            assert second.stdout == ""  # no demo, no tokens, no banner
            assert len(second.stderr.splitlines()) == 1, second.stderr
            assert second.stderr.startswith("error: ")
            assert f"PID {first.process.pid}" in second.stderr
            assert first_url in second.stderr
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{second_port}/healthz", timeout=1.0)

        # The commands that work on the file itself go on beside the running server.
        me = {"Authorization": f"Bearer {owner}"}
        project_id = httpx.get(f"{first_url}/v1/me", headers=me, timeout=2.0).json()["projectId"]
        created = cli.json(
            "tokens", "create", "--project", project_id, "--user", "ops", "--role", "viewer",
            "--database", database,
        )  # fmt: skip
        viewer = {"Authorization": f"Bearer {created['token']}"}
        assert httpx.get(f"{first_url}/v1/me", headers=viewer, timeout=2.0).status_code == 200
        assert cli.json("sessions", "list", "-p", project_id, "--database", database) == []
        purged = cli.json("purge", "--older-than", "1d", "--yes", "--database", database)
        assert purged["deleted"] == 0
        assert httpx.get(f"{first_url}/healthz", timeout=2.0).status_code == 200


def test_a_crashed_server_does_not_block_a_restart(tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    database = tmp_path / "x.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    with serving(database, port) as crashed:
        start_and_wait(crashed, url, deadline)
        crashed.process.kill()  # no shutdown at all: the lock file stays behind
        crashed.process.wait(timeout=DEADLINE_SECONDS)
    assert database.with_name("x.db.server-lock").exists()

    deadline = time.monotonic() + DEADLINE_SECONDS
    with serving(database, port) as restarted:
        restarted.wait_for_line(r"^Serving ", deadline)
        wait_until_healthy(url, deadline)


def test_serve_on_a_port_in_use_says_so_and_writes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "var" / "x.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_to_the_end(database, port)

    assert result.returncode == 1, result
    assert result.stdout == ""  # no banner, no demo tokens
    assert result.stderr.splitlines() == [
        f"error: cannot serve on http://127.0.0.1:{port}: the address is already in use "
        "(another program listens there); stop it, or choose another --port or --host"
    ]
    assert "sweep" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no folder, no lock file


def test_sigterm_stops_the_server_cleanly_with_exit_0(tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    database = tmp_path / "x.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"

    with serving(database, port, stderr=log) as server:
        owner = start_and_wait(server, url, deadline)
        me = {"Authorization": f"Bearer {owner}"}
        project_id = httpx.get(f"{url}/v1/me", headers=me, timeout=2.0).json()["projectId"]

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=DEADLINE_SECONDS * 2) == 0

    printed = log.read_text(encoding="utf-8")
    assert "Traceback" not in printed
    assert "Application shutdown complete" in printed  # the lifespan ran its shutdown
    assert not database.with_name("x.db.server-lock").exists()
    projects = on_service(database, lambda service: service.list_projects(SYSTEM))
    assert [project.id for project in projects] == [project_id]
