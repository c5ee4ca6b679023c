"""Live subscriptions (``subscribe_session``) with the blocking client, against a real server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from session_runtime import Session, SessionStatus
from session_runtime.client import (
    NotFoundError,
    PermissionDeniedError,
    ProjectClient,
    ReconnectPolicy,
    SessionRuntimeClient,
    UnauthenticatedError,
    UnavailableError,
)

from ..support.waiting import wait_until
from .conftest import FAST_RECONNECT, ClientFactory, LiveServer, ServerFactory, World, seed

pytestmark = pytest.mark.timeout(20)


class RecordingTransport(httpx.HTTPTransport):
    """The real network transport, keeping the headers of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)

    def stream_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/events")]


def create(project: ProjectClient, world: World) -> Session:
    return project.create_session(
        event_id=world.event_id,
        experience_id=world.experience_id,
        mode="preview",
        config_source="draft",
    ).session


@pytest.fixture
def later() -> Iterator[Callable[..., Future[Any]]]:
    """``later(fn, once=condition)``: run ``fn()`` in a thread once ``condition()`` holds (at
    once without one), while the test blocks reading."""
    with ThreadPoolExecutor(max_workers=2) as pool:

        def run(fn: Callable[[], Any], *, once: Callable[[], object] | None = None) -> Future[Any]:
            def call() -> Any:
                if once is not None:
                    wait_until(once)
                return fn()

            return pool.submit(call)

        yield run


def test_first_the_snapshot_then_each_change(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    with project.subscribe_session(session.id) as live:
        assert (live.session, live.is_loading, live.error) == (None, True, None)
        first = next(live)
        assert first == session
        assert (live.session, live.is_loading) == (first, False)

        project.update_session_progress(session.id, current_step_index=1)
        project.update_session_progress(session.id, inputs={"name": "Ada"})
        second = next(live)
        # A reader may get every version or only the latest: never an older one, never twice.
        assert second.version in (2, 3)
        if second.version == 2:
            second = next(live)
        assert (second.version, second.current_step_index, second.inputs) == (
            3,
            1,
            {"name": "Ada"},
        )
        assert live.session == second
        assert live.reconnects == 0


def test_a_change_from_another_client_arrives(
    connect: ClientFactory, world: World, later: Callable[..., Future[Any]]
) -> None:
    viewer = connect(world.viewer).project(world.project_id)
    editor = connect().project(world.project_id)
    session = create(editor, world)
    with viewer.subscribe_session(session.id) as live:
        assert next(live).version == 1
        write = later(lambda: editor.update_session_progress(session.id, current_step_index=2))
        # The reader blocks until the change arrives; no snapshot is skipped in state.
        assert next(live).current_step_index == 2
        write.result()


def test_iteration_ends_after_a_final_status(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    live = project.subscribe_session(session.id)
    assert next(live).version == 1
    project.complete_session(session.id)
    assert [s.status for s in live] == [SessionStatus.COMPLETED]
    assert live.is_ended
    assert live.session is not None and live.session.status is SessionStatus.COMPLETED
    assert list(live) == []
    live.close()


def test_a_final_session_yields_its_snapshot_and_ends(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    failed = project.fail_session(session.id, "camera lost")
    with project.subscribe_session(session.id) as live:
        assert list(live) == [failed]
        assert live.is_ended and not live.is_loading and live.error is None


def test_none_disables_the_subscription(connect: ClientFactory, world: World) -> None:
    with connect().project(world.project_id).subscribe_session(None) as live:
        assert (live.session, live.is_loading, live.error) == (None, False, None)
        assert not live.is_enabled
        assert list(live) == []


@pytest.mark.parametrize(
    ("token", "session_id", "error_class"),
    [
        ("editor", "no-such-session", NotFoundError),
        ("bogus", None, UnauthenticatedError),
        ("stranger", None, PermissionDeniedError),
    ],
)
def test_final_errors_stop_it_at_once(
    connect: ClientFactory,
    world: World,
    token: str,
    session_id: str | None,
    error_class: type[Exception],
) -> None:
    session = create(connect().project(world.project_id), world)
    client = connect(getattr(world, token, "not-a-token"))
    with client.project(world.project_id).subscribe_session(session_id or session.id) as live:
        with pytest.raises(error_class):
            next(live)
        assert isinstance(live.error, error_class)
        assert (live.session, live.is_loading, live.reconnects) == (None, False, 0)
        assert list(live) == []


def test_close_stops_the_iteration(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    live = project.subscribe_session(session.id)
    assert next(live).version == 1
    live.close()
    live.close()
    assert live.is_closed
    project.update_session_progress(session.id, current_step_index=1)
    assert list(live) == []
    assert live.session is not None and live.session.version == 1


def test_close_from_another_thread_stops_the_reader(connect: ClientFactory, world: World) -> None:
    project = connect().project(world.project_id)
    session = create(project, world)
    live = project.subscribe_session(session.id)
    with ThreadPoolExecutor(max_workers=1) as pool:
        reader = pool.submit(list, live)
        wait_until(lambda: live.session is not None, timeout=5)
        live.close()
        # The reader notices at the stream's next heartbeat (every 0.5 s here).
        assert reader.result(timeout=3) == [session]
    assert live.is_closed and list(live) == []


def test_it_gives_up_after_its_attempts(server: LiveServer, world: World) -> None:
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=2, idle_timeout=2)
    with SessionRuntimeClient(server.base_url, world.editor, reconnect=policy) as client:
        project = client.project(world.project_id)
        session = create(project, world)
        live = project.subscribe_session(session.id)
        assert next(live).version == 1
        server.stop()
        with pytest.raises(UnavailableError):
            next(live)
        assert isinstance(live.error, UnavailableError)
        assert live.reconnects == 2
        assert live.session is not None and live.session.version == 1


def test_a_silent_stream_is_taken_for_dead_and_followed_again(
    start_server: ServerFactory, later: Callable[..., Future[Any]]
) -> None:
    quiet = start_server(heartbeat_seconds=30)
    world = quiet.call(seed(quiet.service))
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.05, idle_timeout=0.3)
    with SessionRuntimeClient(quiet.base_url, world.editor, reconnect=policy) as client:
        project = client.project(world.project_id)
        session = create(project, world)
        with project.subscribe_session(session.id) as live:
            assert next(live).version == 1
            # Written only once the silent stream was taken for dead twice and followed again.
            write = later(
                lambda: project.update_session_progress(session.id, current_step_index=4),
                once=lambda: live.reconnects >= 2,
            )
            assert next(live).current_step_index == 4
            write.result()
            assert live.reconnects >= 2


def test_heartbeats_keep_an_idle_stream_open(
    connect: ClientFactory, world: World, later: Callable[..., Future[Any]]
) -> None:
    # The server sends a comment every 0.5 s; a stream may stay silent for 1.2 s.
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.05, idle_timeout=1.2)
    project = connect(reconnect=policy).project(world.project_id)
    session = create(project, world)
    with project.subscribe_session(session.id) as live:
        assert next(live).version == 1
        # What is under test is a quiet period longer than `idle_timeout`: wait it out.
        quiet_until = time.monotonic() + 2.0
        write = later(
            lambda: project.update_session_progress(session.id, current_step_index=1),
            once=lambda: time.monotonic() >= quiet_until,
        )
        assert next(live).version == 2
        write.result()
        assert live.reconnects == 0


def test_it_survives_a_server_restart(
    start_server: ServerFactory, later: Callable[..., Future[Any]]
) -> None:
    first = start_server()
    world = first.call(seed(first.service))
    transport = RecordingTransport()
    client = SessionRuntimeClient(
        first.base_url, world.editor, reconnect=FAST_RECONNECT, transport=transport
    )
    project = client.project(world.project_id)
    session = create(project, world)

    def restart_and_write() -> LiveServer:
        # The same database, the same port: for the client, the same server came back.
        second = start_server(database_path=first.database_path, port=first.port)
        with SessionRuntimeClient(second.base_url, world.editor) as writer:
            writer.project(world.project_id).update_session_progress(
                session.id, current_step_index=3, inputs={"after": "restart"}
            )
        return second

    with client, project.subscribe_session(session.id) as live:
        assert next(live).version == 1
        first.stop()
        # Back once the reader has met the closed port: its first try to follow again failed.
        restarted = later(restart_and_write, once=lambda: live.reconnects >= 2)
        snapshot = next(live)
        restarted.result()
        assert (snapshot.version, snapshot.current_step_index) == (2, 3)
        assert snapshot.inputs == {"after": "restart"}
        assert live.reconnects >= 2
        assert live.error is None
        streams = transport.stream_requests()
        assert "last-event-id" not in streams[0].headers
        assert {r.headers["last-event-id"] for r in streams[1:]} == {"1"}
