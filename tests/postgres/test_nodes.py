"""Several server nodes on one PostgreSQL: live across nodes, nothing lost, outages survived.

Each test runs real `session-runtime serve --database-url ...` processes on 127.0.0.1 over a
throwaway PostgreSQL cluster of its own, which the outage test stops and starts again.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from session_runtime import SYSTEM
from session_runtime.runtime import SessionRuntime

from ..support.postgres import INSTALL_HINT, ThrowawayCluster, find_initdb, free_port
from ..support.waiting import wait_until


class RestartableCluster(ThrowawayCluster):
    """A throwaway cluster that can also be stopped and started again on the same port."""

    def halt(self) -> None:
        done = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        assert done.returncode == 0, done.stderr

    def resume(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        assert done.returncode == 0, done.stderr


@dataclass(frozen=True)
class Node:
    url: str
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class Seeded:
    project_id: str
    event_id: str
    experience_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def new_session(self, node: Node) -> str:
        body = {
            "eventId": self.event_id,
            "experienceId": self.experience_id,
            "mode": "guest",
            "configSource": "published",
        }
        response = httpx.post(
            f"{node.url}/v1/projects/{self.project_id}/sessions", json=body, headers=self.headers
        )
        assert response.status_code == 201, response.text
        session_id: str = response.json()["sessionId"]
        return session_id

    def session_url(self, node: Node, session_id: str) -> str:
        return f"{node.url}/v1/projects/{self.project_id}/sessions/{session_id}"


@pytest.fixture
def cluster() -> Iterator[RestartableCluster]:
    initdb = find_initdb()
    if initdb is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    cluster = RestartableCluster(initdb)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def seed(dsn: str) -> Seeded:
    async def run() -> Seeded:
        async with SessionRuntime.postgres(dsn) as runtime:
            service = runtime.service
            project = await service.create_project(SYSTEM, {"name": "Tour"})
            event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "e"})
            experience = await service.create_experience(
                SYSTEM, {"projectId": project.id, "name": "x"}
            )
            _, token = await service.create_member_token(
                SYSTEM, project.id, user="ops", role="owner"
            )
            return Seeded(project.id, event.id, experience.id, token)

    return asyncio.run(run())


@contextmanager
def node(dsn: str, log: Path, env: dict[str, str] | None = None) -> Iterator[Node]:
    port = free_port()
    with log.open("wb") as output:
        command = [sys.executable, "-m", "session_runtime.cli", "serve"]
        process = subprocess.Popen(
            [*command, "--port", str(port), "--database-url", dsn],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SESSION_RUNTIME_HEARTBEAT_SECONDS": "1", **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Node(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def two_nodes(
    dsn: str, folder: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[Node, Node]]:
    with ExitStack() as stack:
        yield (
            stack.enter_context(node(dsn, folder / "node-a.log", env)),
            stack.enter_context(node(dsn, folder / "node-b.log", env)),
        )


class Follower:
    """Follows one session's SSE stream in a thread, noting each snapshot's arrival."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.snapshots: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.latest: dict[str, Any] | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=30))
        self._thread = threading.Thread(target=self._follow, args=(url, headers), daemon=True)
        self._thread.start()

    def _follow(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url + "/events", headers=headers) as stream:
                for line in stream.iter_lines():
                    if line.startswith('data: {"id"'):
                        session = json.loads(line[6:])
                        self.latest = session
                        self.snapshots.put((time.monotonic(), session))
        except httpx.HTTPError:
            pass

    def wait_for_version(self, version: int, timeout: float) -> float:
        """When a snapshot at ``version`` or later arrived (monotonic seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            arrived, session = self.snapshots.get(timeout=max(0.0, deadline - time.monotonic()))
            if session["version"] >= version:
                return arrived

    def close(self) -> None:
        self._client.close()


def test_a_write_on_one_node_reaches_a_subscriber_on_the_other(
    cluster: RestartableCluster, tmp_path: Path
) -> None:
    data = seed(cluster.dsn)
    with two_nodes(cluster.dsn, tmp_path) as (a, b):
        session_id = data.new_session(a)
        follower = Follower(data.session_url(a, session_id), data.headers)
        try:
            follower.wait_for_version(1, timeout=5)
            for step in range(1, 6):
                sent = time.monotonic()
                response = httpx.patch(
                    data.session_url(b, session_id),
                    json={"currentStepIndex": step},
                    headers=data.headers,
                )
                assert response.status_code == 200
                arrived = follower.wait_for_version(step + 1, timeout=5)
                assert arrived - sent < 1.0
            assert follower.latest is not None
            assert follower.latest["currentStepIndex"] == 5
        finally:
            follower.close()


def test_sixteen_writers_on_two_nodes_lose_no_key(
    cluster: RestartableCluster, tmp_path: Path
) -> None:
    data = seed(cluster.dsn)
    writes_each = 25
    with two_nodes(cluster.dsn, tmp_path) as nodes:
        session_id = data.new_session(nodes[0])
        failures: list[str] = []

        def writer(number: int) -> None:
            target = nodes[number % 2]
            with httpx.Client(timeout=10) as client:
                for index in range(writes_each):
                    response = client.patch(
                        data.session_url(target, session_id),
                        json={"inputs": {f"w{number}-{index}": index}},
                        headers=data.headers,
                    )
                    if response.status_code != 200:
                        failures.append(response.text)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        stored = httpx.get(data.session_url(nodes[1], session_id), headers=data.headers).json()
    expected = {f"w{n}-{i}" for n in range(16) for i in range(writes_each)}
    assert set(stored["inputs"]) == expected
    assert stored["version"] == 16 * writes_each + 1


def test_two_sweeping_nodes_abandon_each_stale_session_once(
    cluster: RestartableCluster, tmp_path: Path
) -> None:
    data = seed(cluster.dsn)
    # Both nodes sweep every 0.1 s for sessions idle over 1.5 s, racing for the same rows.
    sweeping = {
        "SESSION_RUNTIME_STALE_AFTER_SECONDS": "1.5",
        "SESSION_RUNTIME_SWEEP_INTERVAL_SECONDS": "0.1",
    }
    with two_nodes(cluster.dsn, tmp_path, sweeping) as (a, b):
        session_ids = [data.new_session(a) for _ in range(30)]
        follower = Follower(data.session_url(b, session_ids[0]), data.headers)
        try:
            follower.wait_for_version(1, timeout=5)
            follower.wait_for_version(2, timeout=10)
            assert follower.latest is not None
            assert follower.latest["status"] == "abandoned"
        finally:
            follower.close()
        deadline = time.monotonic() + 10
        while True:
            stored = [
                httpx.get(data.session_url(b, sid), headers=data.headers).json()
                for sid in session_ids
            ]
            if all(s["status"] == "abandoned" for s in stored) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    # Swept once each: one write, so version 2, whichever node won.
    assert [(s["status"], s["version"]) for s in stored] == [("abandoned", 2)] * 30
    assert {s["endReason"] for s in stored} == {"no update for 1.5 seconds"}


def test_an_outage_answers_503_quickly_and_both_nodes_recover(
    cluster: RestartableCluster, tmp_path: Path
) -> None:
    data = seed(cluster.dsn)
    with two_nodes(cluster.dsn, tmp_path) as nodes:
        session_id = data.new_session(nodes[0])
        follower = Follower(data.session_url(nodes[0], session_id), data.headers)
        follower.wait_for_version(1, timeout=5)
        acknowledged: list[str] = []
        answers: list[tuple[int, float, int]] = []  # status, seconds, node
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=15) as client:
                for index in range(2_000):  # bounded; the test stops it much sooner
                    if stop.is_set():
                        return
                    which = index % 2
                    key = f"k{index}"
                    started = time.monotonic()
                    try:
                        response = client.patch(
                            data.session_url(nodes[which], session_id),
                            json={"inputs": {key: index}},
                            headers=data.headers,
                        )
                        status = response.status_code
                    except httpx.HTTPError:
                        status = -1
                    answers.append((status, time.monotonic() - started, which))
                    if status == 200:
                        acknowledged.append(key)
                    time.sleep(0.02)

        writer = threading.Thread(target=load)
        writer.start()

        def answered(since: int, status: int) -> set[int]:
            """The nodes that answered ``status`` since the ``since``-th answer."""
            return {which for code, _, which in answers[since:] if code == status}

        try:
            wait_until(lambda: answered(0, 200) == {0, 1}, what="both nodes took writes")
            cluster.halt()
            outage_started = len(answers)
            wait_until(
                lambda: answered(outage_started, 503) == {0, 1},
                timeout=30,
                what="both nodes answered 503",
            )
            during = answers[outage_started:]
            cluster.resume()
            resumed = len(answers)
            wait_until(
                lambda: answered(resumed, 200) == {0, 1},
                timeout=20,
                what="both nodes took writes again",
            )
            recovered = answered(resumed, 200)
            written_after = len(acknowledged)
            wait_until(lambda: len(acknowledged) >= written_after + 20, what="writes went on")
        finally:
            stop.set()
            writer.join(timeout=30)

        statuses = {status for status, _, _ in answers}
        assert statuses <= {200, 503}, statuses
        assert any(status == 503 for status, _, _ in during)
        assert max(seconds for _, seconds, _ in answers) < 6.0
        assert recovered == {0, 1}
        for target in nodes:
            assert httpx.get(f"{target.url}/readyz").status_code == 200
        stored = httpx.get(data.session_url(nodes[1], session_id), headers=data.headers).json()
        assert set(acknowledged) <= set(stored["inputs"])
        # The subscriber on node A, whose listener lost PostgreSQL too, ends on the last state.
        follower.wait_for_version(stored["version"], timeout=10)
        follower.close()
