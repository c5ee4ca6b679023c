"""One ``Idempotency-Key`` sent to two server nodes at once, on one PostgreSQL: applied once.

Two real `session-runtime serve --database-url ...` processes (see ``test_nodes``) over a
throwaway cluster; many threads send the same keyed request, half to each node, at the same
moment. A keyed create sent to both nodes makes one session.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..support.postgres import INSTALL_HINT, ThrowawayCluster, find_initdb
from .test_nodes import Node, two_nodes
from .test_nodes import seed as seed_cluster

SENDERS = 16


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    initdb = find_initdb()
    if initdb is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    cluster = ThrowawayCluster(initdb)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def send_together(
    nodes: tuple[Node, Node], method: str, path: str, headers: dict[str, str], body: object
) -> list[httpx.Response]:
    """``SENDERS`` requests released at once, alternating between the nodes."""
    start = threading.Barrier(SENDERS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send(node: Node) -> None:
        with httpx.Client(timeout=30) as client:
            start.wait(timeout=30)
            response = client.request(method, node.url + path, json=body, headers=headers)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send, args=(nodes[i % 2],)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == SENDERS
    return answers


def test_one_key_on_two_nodes_applies_once(cluster: ThrowawayCluster, tmp_path: Path) -> None:
    data = seed_cluster(cluster.dsn)
    with two_nodes(cluster.dsn, tmp_path, {"SESSION_RUNTIME_RATE_LIMIT_PER_SECOND": "0"}) as nodes:
        sessions = f"/v1/projects/{data.project_id}/sessions"
        create_headers = {**data.headers, "Idempotency-Key": secrets.token_urlsafe(16)}
        body = {
            "eventId": data.event_id,
            "experienceId": data.experience_id,
            "mode": "guest",
            "configSource": "published",
        }
        created = send_together(nodes, "POST", sessions, create_headers, body)
        assert {response.status_code for response in created} == {201}
        assert len({response.json()["sessionId"] for response in created}) == 1
        assert sum(r.headers.get("idempotency-replayed") == "true" for r in created) == 15
        session_id = created[0].json()["sessionId"]

        patch_headers = {**data.headers, "Idempotency-Key": secrets.token_urlsafe(16)}
        patch = {"currentStepIndex": 2, "inputs": {"visits": {"booth": 1}}}
        patched = send_together(nodes, "PATCH", f"{sessions}/{session_id}", patch_headers, patch)
        assert {response.status_code for response in patched} == {200}
        assert {response.json()["version"] for response in patched} == {2}
        assert sum(r.headers.get("idempotency-replayed") == "true" for r in patched) == 15

        listed = httpx.get(nodes[1].url + sessions, headers=data.headers).json()["items"]
        assert [item["id"] for item in listed] == [session_id]
        stored = httpx.get(f"{nodes[0].url}{sessions}/{session_id}", headers=data.headers).json()
        assert (stored["version"], stored["inputs"]) == (2, {"visits": {"booth": 1}})
