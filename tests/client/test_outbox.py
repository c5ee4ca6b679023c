"""The SDK's outbox against a real server that goes away and comes back on the same port."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from session_runtime import SYSTEM
from session_runtime.client import (
    AsyncSessionRuntimeClient,
    FailedWrite,
    NotFoundError,
    ReconnectPolicy,
    SessionRuntimeClient,
    new_session_id,
)

from .conftest import LiveServer, ServerFactory, World

QUICK_RETRIES = ReconnectPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.1, max_attempts=None)


def booth(world: World) -> dict[str, Any]:
    return {
        "event_id": world.event_id,
        "experience_id": world.experience_id,
        "mode": "guest",
        "config_source": "published",
    }


def client(server: LiveServer, world: World, outbox: Path, **options: Any) -> SessionRuntimeClient:
    options.setdefault("outbox_policy", QUICK_RETRIES)
    return SessionRuntimeClient(server.base_url, world.owner, timeout=2.0, outbox=outbox, **options)


def stored_keys(server: LiveServer) -> int:
    with sqlite3.connect(server.database_path) as conn:
        count: int = conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0]
    return count


def test_online_writes_go_straight_through_with_keys(
    server: LiveServer, world: World, tmp_path: Path
) -> None:
    with client(server, world, tmp_path / "outbox.db") as sdk:
        project = sdk.project(world.project_id)
        created = project.create_session(**booth(world))
        assert created.session.version == 1
        updated = project.update_session_progress(created.session_id, inputs={"a": 1})
        assert updated.version == 2
        assert sdk.pending_writes == []
        view = project.session_view(created.session_id)
        assert view.session == updated and not view.has_pending_writes
    assert stored_keys(server) == 2  # each write carried a key of its own


def test_writes_made_offline_queue_show_locally_and_land_once_when_back(
    start_server: ServerFactory, server: LiveServer, world: World, tmp_path: Path
) -> None:
    port = server.port
    with client(server, world, tmp_path / "outbox.db") as sdk:
        project = sdk.project(world.project_id)
        online = project.create_session(**booth(world))
        server.stop()

        offline = project.create_session(**booth(world))
        assert offline.session.version == 0  # not yet confirmed by any server
        project.update_session_progress(
            offline.session_id, current_step_index=1, inputs={"profile": {"name": "Ada"}}
        )
        local = project.update_session_progress(
            offline.session_id, current_step_index=2, inputs={"profile": {"mood": "happy"}}
        )
        assert local.inputs == {"profile": {"name": "Ada", "mood": "happy"}}
        project.update_session_progress(online.session_id, inputs={"late": True})
        project.complete_session(offline.session_id)

        assert [w.kind for w in sdk.pending_writes] == [
            "create", "update", "update", "update", "complete",
        ]  # fmt: skip
        view = project.session_view(offline.session_id)
        assert view.has_pending_writes
        assert view.session is not None
        assert (view.session.status, view.session.current_step_index) == ("completed", 2)
        seen_online = project.session_view(online.session_id)
        assert seen_online.session is not None and seen_online.session.version == 1
        assert seen_online.session.inputs == {"late": True}

        assert not sdk.flush(timeout=0.3)  # still away: nothing lands, nothing is lost
        assert len(sdk.pending_writes) == 5

        back = start_server(database_path=server.database_path, port=port)
        assert sdk.flush(timeout=30)
        assert sdk.pending_writes == [] and sdk.failed_writes == []
        stored = back.call(back.service.get_session(SYSTEM, world.project_id, offline.session_id))
        assert stored.version == 4
        assert stored.status == "completed"
        assert stored.inputs == {"profile": {"name": "Ada", "mood": "happy"}}
        view = project.session_view(offline.session_id)
        assert view.session == stored and not view.has_pending_writes
        other = back.call(back.service.get_session(SYSTEM, world.project_id, online.session_id))
        assert (other.version, other.inputs) == (2, {"late": True})


def test_queued_writes_survive_a_new_client_on_the_same_file(
    start_server: ServerFactory, server: LiveServer, world: World, tmp_path: Path
) -> None:
    port, outbox = server.port, tmp_path / "outbox.db"
    server.stop()
    session_id = new_session_id()
    with client(server, world, outbox) as sdk:
        project = sdk.project(world.project_id)
        project.create_session(**booth(world), session_id=session_id)
        project.update_session_progress(session_id, outputs={
            "portrait": {"mediaAssetId": "m1", "url": "https://cdn.example.com/m1.jpg"}
        })  # fmt: skip
    back = start_server(database_path=server.database_path, port=port)
    with client(back, world, outbox) as sdk:
        assert [w.kind for w in sdk.pending_writes] == ["create", "update"]
        view = sdk.project(world.project_id).session_view(session_id)
        assert view.has_pending_writes and view.session is not None
        assert sdk.flush(timeout=30)
    stored = back.call(back.service.get_session(SYSTEM, world.project_id, session_id))
    assert stored.version == 2 and set(stored.outputs) == {"portrait"}


def test_a_write_refused_for_good_leaves_the_queue_without_blocking_the_rest(
    start_server: ServerFactory, server: LiveServer, world: World, tmp_path: Path
) -> None:
    port = server.port
    failures: list[FailedWrite] = []
    with client(server, world, tmp_path / "outbox.db", on_write_failed=failures.append) as sdk:
        project = sdk.project(world.project_id)
        real = project.create_session(**booth(world))
        server.stop()
        project.update_session_progress("no-such-session-aaaaaaaaaa", current_step_index=3)
        project.complete_session(real.session_id)
        project.update_session_progress(real.session_id, current_step_index=9)  # after complete
        back = start_server(database_path=server.database_path, port=port)
        assert sdk.flush(timeout=30)
        assert [(f.write.kind, f.error.code) for f in failures] == [
            ("update", "NOT_FOUND"),
            ("update", "FAILED_PRECONDITION"),
        ]
        assert sdk.failed_writes == failures
        stored = back.call(back.service.get_session(SYSTEM, world.project_id, real.session_id))
        assert (stored.status, stored.current_step_index, stored.version) == ("completed", 0, 2)
        # The local view follows the server: the refused progress is not shown.
        view = project.session_view(real.session_id)
        assert view.session == stored and not view.has_pending_writes


def test_a_write_refused_while_online_raises_and_is_not_queued(
    server: LiveServer, world: World, tmp_path: Path
) -> None:
    with client(server, world, tmp_path / "outbox.db") as sdk:
        with pytest.raises(NotFoundError):
            sdk.project(world.project_id).complete_session("no-such-session-aaaaaaaaaa")
        assert sdk.pending_writes == [] and sdk.failed_writes == []


async def test_the_async_client_queues_and_flushes_the_same_way(
    start_server: ServerFactory, server: LiveServer, world: World, tmp_path: Path
) -> None:
    port = server.port
    server.stop()
    async with AsyncSessionRuntimeClient(
        server.base_url,
        world.owner,
        timeout=2.0,
        outbox=tmp_path / "outbox.db",
        outbox_policy=QUICK_RETRIES,
    ) as sdk:
        project = sdk.project(world.project_id)
        created = await project.create_session(**booth(world))
        for step in range(1, 4):
            await project.update_session_progress(
                created.session_id, current_step_index=step, inputs={f"q{step}": step}
            )
        assert len(sdk.pending_writes) == 4
        view = project.session_view(created.session_id)
        assert view.session is not None and view.session.inputs == {"q1": 1, "q2": 2, "q3": 3}
        back = start_server(database_path=server.database_path, port=port)
        assert await sdk.flush(timeout=30)
        assert sdk.pending_writes == []
    stored = back.call(back.service.get_session(SYSTEM, world.project_id, created.session_id))
    assert (stored.version, stored.current_step_index) == (4, 3)


def test_the_background_worker_sends_without_a_flush(
    start_server: ServerFactory, server: LiveServer, world: World, tmp_path: Path
) -> None:
    port = server.port
    with client(server, world, tmp_path / "outbox.db") as sdk:
        project = sdk.project(world.project_id)
        server.stop()
        created = project.create_session(**booth(world))
        back = start_server(database_path=server.database_path, port=port)
        deadline = time.monotonic() + 30
        while sdk.pending_writes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sdk.pending_writes == []
    stored = back.call(back.service.get_session(SYSTEM, world.project_id, created.session_id))
    assert stored.version == 1
