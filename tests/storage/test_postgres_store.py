"""What is particular to the PostgreSQL store: outages, timeouts, the pool, several nodes.

Outages are played by a TCP proxy between the store and the server (``TcpProxy``): cut, it
resets every connection and refuses new ones, as a server that went away; stalled, it forwards
nothing, as a network that drops packets. The bounds in ``asyncio.timeout`` are guards against
a hang, many times the store's own timeouts, not measurements.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    NotFoundError,
    Session,
    SessionRuntime,
    SessionService,
    UnavailableError,
    ValidationError,
)
from session_runtime.domain.timestamps import to_micros
from session_runtime.storage import SessionQuery
from session_runtime.storage.postgres import PostgresStore

from ..support.postgres import PostgresDatabase, TcpProxy, free_port

HANG_GUARD = 10.0


@pytest.fixture
def schema(postgres: PostgresDatabase) -> str:
    return postgres.new_schema()


@pytest.fixture
async def proxy(postgres: PostgresDatabase) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(postgres.dsn)
    await proxy.start()
    yield proxy
    await proxy.close()


def quick_store(dsn: str, schema: str, **options: Any) -> PostgresStore:
    """A store whose timeouts are short, so outages show at once."""
    defaults: dict[str, Any] = {"connect_timeout": 0.5, "command_timeout": 1.0, "min_pool": 1}
    return PostgresStore(dsn, schema=schema, **{**defaults, **options})


async def start_session(service: SessionService) -> Session:
    project = await service.create_project(SYSTEM, {"name": "Demo"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Party"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "Booth"})
    created = await service.create_session(
        SYSTEM,
        {
            "projectId": project.id,
            "eventId": event.id,
            "experienceId": experience.id,
            "mode": "guest",
            "configSource": "published",
        },
    )
    return created.session


async def every_read_and_write(service: SessionService, session: Session) -> list[BaseException]:
    """Try one of each kind of operation; return what each raised."""
    project_id, session_id = session.project_id, session.id
    operations = [
        service.get_session(SYSTEM, project_id, session_id),
        service.list_sessions(SYSTEM, project_id),
        service.update_session_progress(SYSTEM, project_id, {"sessionId": session_id}),
        service.create_project(SYSTEM, {"name": "Late"}),
        service.authenticate("srt_anything_at_all_here"),
    ]
    errors: list[BaseException] = []
    for operation in operations:
        try:
            await operation
        except Exception as exc:
            errors.append(exc)
    return errors


# -- life cycle -------------------------------------------------------------------------------


def test_the_dsn_and_the_limits_are_kept() -> None:
    store = PostgresStore("postgresql://app@db/sessions", min_pool=1, max_pool=4, schema="s")
    assert store.dsn == "postgresql://app@db/sessions"
    assert (store.min_pool, store.max_pool, store.schema) == (1, 4, "s")
    assert store.acquire_timeout <= 5.0


@pytest.mark.parametrize(
    "options",
    [{"min_pool": 3, "max_pool": 2}, {"max_pool": 0}, {"connect_timeout": 0}],
    ids=["min-over-max", "no-connections", "no-time"],
)
def test_senseless_limits_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PostgresStore("postgresql://app@db/sessions", **options)


async def test_a_store_that_was_never_opened_is_unavailable(
    postgres: PostgresDatabase, schema: str
) -> None:
    store = quick_store(postgres.dsn, schema)
    with pytest.raises(UnavailableError):
        await store.get_project("p1")
    with pytest.raises(UnavailableError):
        await store.list_sessions(SessionQuery(project_id="p1", limit=10))
    with pytest.raises(UnavailableError):
        await store.update_session("p1", "s1", lambda session: None)


async def test_opening_and_closing_twice_is_harmless(
    postgres: PostgresDatabase, schema: str
) -> None:
    store = quick_store(postgres.dsn, schema)
    await store.open()
    await store.open()
    await store.close()
    await store.close()
    with pytest.raises(UnavailableError):
        await store.list_projects()


async def test_the_same_store_object_can_be_reopened(
    postgres: PostgresDatabase, schema: str
) -> None:
    runtime = SessionRuntime(quick_store(postgres.dsn, schema))
    await runtime.open()
    session = await start_session(runtime.service)
    await runtime.close()

    async with runtime:
        assert await runtime.service.get_session(SYSTEM, session.project_id, session.id) == session


async def test_the_listener_connection_is_its_own(postgres: PostgresDatabase, schema: str) -> None:
    async with quick_store(postgres.dsn, schema) as store:
        listener = await store.connect_listener()
        try:
            assert await listener.fetchval("SELECT current_schema()") == schema
            assert await listener.fetchval("""SELECT '{"a": [1, null]}'::jsonb""") == {
                "a": [1, None]
            }
            pooled = await store._fetch("SELECT pg_backend_pid()")
            assert pooled[0][0] != listener.get_server_pid()
        finally:
            await listener.close()


# -- outages ----------------------------------------------------------------------------------


async def test_a_server_that_is_not_there_is_unavailable(schema: str) -> None:
    store = quick_store(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", schema)
    async with asyncio.timeout(HANG_GUARD):
        with pytest.raises(UnavailableError):
            await store.open()
        with pytest.raises(UnavailableError):
            await store.connect_listener()


async def test_a_server_that_never_answers_is_unavailable(proxy: TcpProxy, schema: str) -> None:
    proxy.stall()
    async with asyncio.timeout(HANG_GUARD):
        with pytest.raises(UnavailableError):
            await quick_store(proxy.dsn, schema).open()


async def test_an_outage_is_unavailable_then_heals_without_reopening(
    proxy: TcpProxy, schema: str
) -> None:
    async with SessionRuntime(quick_store(proxy.dsn, schema, min_pool=2)) as runtime:
        service = runtime.service
        session = await start_session(service)

        await proxy.cut()
        async with asyncio.timeout(HANG_GUARD):
            errors = await every_read_and_write(service, session)
        assert len(errors) == 5
        assert all(isinstance(error, UnavailableError) for error in errors), errors

        await proxy.restore()
        updated = await service.update_session_progress(
            SYSTEM, session.project_id, {"sessionId": session.id, "inputs": {"back": True}}
        )
        assert (updated.version, updated.inputs) == (2, {"back": True})
        assert await service.get_session(SYSTEM, session.project_id, session.id) == updated


async def test_a_network_that_hangs_times_out_then_heals(proxy: TcpProxy, schema: str) -> None:
    store = quick_store(proxy.dsn, schema, min_pool=2, connect_timeout=0.3, command_timeout=0.3)
    async with SessionRuntime(store) as runtime:
        service = runtime.service
        session = await start_session(service)

        proxy.stall()
        async with asyncio.timeout(HANG_GUARD):
            errors = await every_read_and_write(service, session)
        assert all(isinstance(error, UnavailableError) for error in errors), errors

        await proxy.restore()
        stored = await service.get_session(SYSTEM, session.project_id, session.id)
        assert stored == session


async def test_closing_while_the_network_hangs_does_not_hang(proxy: TcpProxy, schema: str) -> None:
    store = quick_store(proxy.dsn, schema, min_pool=2, connect_timeout=0.3, command_timeout=0.3)
    await store.open()
    await store.list_projects()
    proxy.stall()

    async with asyncio.timeout(HANG_GUARD):
        await store.close()

    with pytest.raises(UnavailableError):
        await store.list_projects()


async def test_a_write_cut_off_halfway_leaves_nothing_behind(
    postgres: PostgresDatabase, proxy: TcpProxy, schema: str
) -> None:
    async with SessionRuntime(quick_store(proxy.dsn, schema)) as runtime:
        session = await start_session(runtime.service)
        store = runtime.store

        def cut_then_change(current: Session) -> Session:
            proxy.reset_connections()  # the row is read and locked; the write will not arrive
            return current.evolve(inputs={"lost": True}, version=current.version + 1)

        async with asyncio.timeout(HANG_GUARD):
            with pytest.raises(UnavailableError):
                await store.update_session(session.project_id, session.id, cut_then_change)

    async with SessionRuntime(quick_store(postgres.dsn, schema)) as direct:
        stored = await direct.service.get_session(SYSTEM, session.project_id, session.id)
        assert stored == session
        # The lock went with the connection: the row takes writes again.
        updated = await direct.service.update_session_progress(
            SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": 1}
        )
        assert updated.version == 2


async def test_a_node_lost_inside_a_transaction_does_not_keep_the_row_locked(
    postgres: PostgresDatabase, proxy: TcpProxy, schema: str
) -> None:
    async with SessionRuntime(quick_store(proxy.dsn, schema, command_timeout=0.3)) as lost:
        session = await start_session(lost.service)

        def stall_then_change(current: Session) -> Session:
            proxy.stall()  # the row is locked; the connection goes silent, not closed
            return current.evolve(inputs={"lost": True}, version=current.version + 1)

        async with asyncio.timeout(HANG_GUARD):
            with pytest.raises(UnavailableError):
                await lost.store.update_session(session.project_id, session.id, stall_then_change)

            # The server ends the silent transaction, so another node can write the row.
            async with SessionRuntime(quick_store(postgres.dsn, schema)) as other:
                updated = await other.service.update_session_progress(
                    SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": 1}
                )
                assert (updated.version, updated.inputs) == (2, {})
        await proxy.restore()


# -- the pool and several nodes ---------------------------------------------------------------


async def test_a_small_pool_serves_many_concurrent_callers(
    postgres: PostgresDatabase, schema: str
) -> None:
    async with SessionRuntime(PostgresStore(postgres.dsn, schema=schema, max_pool=2)) as runtime:
        service = runtime.service
        session = await start_session(service)

        results = await asyncio.gather(
            *(
                service.update_session_progress(
                    SYSTEM, session.project_id, {"sessionId": session.id, "inputs": {f"k{i}": i}}
                )
                for i in range(40)
            ),
            *(service.get_session(SYSTEM, session.project_id, session.id) for _ in range(40)),
        )

    assert sorted(result.version for result in results[:40]) == list(range(2, 42))


async def test_two_nodes_on_one_database_lose_nothing(
    postgres: PostgresDatabase, schema: str
) -> None:
    first = SessionRuntime(PostgresStore(postgres.dsn, schema=schema, max_pool=4))
    second = SessionRuntime(PostgresStore(postgres.dsn, schema=schema, max_pool=4))
    async with first, second:
        session = await start_session(first.service)

        async def write(runtime: SessionRuntime, writer: int) -> None:
            for index in range(25):
                await runtime.service.update_session_progress(
                    SYSTEM,
                    session.project_id,
                    {"sessionId": session.id, "inputs": {f"w{writer}-{index}": index}},
                )

        await asyncio.gather(
            *(write(first if writer % 2 else second, writer) for writer in range(8))
        )

        for runtime in (first, second):
            stored = await runtime.service.get_session(SYSTEM, session.project_id, session.id)
            assert len(stored.inputs) == 200
            assert stored.version == 201


async def test_sessions_changed_after_serves_a_listener_catching_up_page_by_page(
    postgres: PostgresDatabase, schema: str
) -> None:
    async with SessionRuntime(quick_store(postgres.dsn, schema)) as runtime:
        store = runtime.store
        assert isinstance(store, PostgresStore)
        older = await start_session(runtime.service)
        project_id = older.project_id
        created = await runtime.service.create_session(
            SYSTEM,
            {
                "projectId": project_id,
                "eventId": older.event_id,
                "experienceId": older.experience_id,
                "mode": "guest",
                "configSource": "published",
            },
        )
        newer = created.session
        changed = await runtime.service.complete_session(SYSTEM, project_id, older.id)

        def position(session: Session) -> tuple[int, str]:
            return (to_micros(session.updated_at), session.id)

        assert await store.sessions_changed_after(project_id, position(newer), 10) == [changed]
        assert await store.sessions_changed_after(project_id, position(changed), 10) == []
        start = (to_micros(older.created_at) - 1, "")
        first = await store.sessions_changed_after(project_id, start, 1)
        assert [session.id for session in first] == [newer.id]
        second = await store.sessions_changed_after(project_id, position(first[-1]), 1)
        assert second == [changed]
        other = await runtime.service.create_project(SYSTEM, {"name": "Other"})
        assert await store.sessions_changed_after(other.id, start, 10) == []
        assert await store.sessions_changed_after("\x00", start, 10) == []


async def test_catching_up_reads_the_change_index_not_the_table(
    postgres: PostgresDatabase, schema: str
) -> None:
    async with SessionRuntime(quick_store(postgres.dsn, schema)) as runtime:
        await start_session(runtime.service)
    conn = await postgres.connect(schema)
    try:
        await conn.execute("SET enable_seqscan = off")  # a tiny table: ask what it would use
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT id FROM sessions WHERE project_id = $1 "
            "AND (updated_at, id) > ($2, $3) ORDER BY updated_at, id LIMIT $4",
            "p",
            0,
            "",
            200,
        )
    finally:
        await conn.close()
    assert "sessions_by_change" in str(plan)
    assert "Sort" not in str(plan)  # read in index order: a page costs a page


# -- what PostgreSQL cannot hold --------------------------------------------------------------


async def test_nul_characters_are_refused_with_their_field(
    postgres: PostgresDatabase, schema: str
) -> None:
    async with SessionRuntime(quick_store(postgres.dsn, schema)) as runtime:
        service = runtime.service
        session = await start_session(service)
        project_id = session.project_id

        for inputs, path in (
            ({"a": ["ok", "x\x00y"]}, "inputs.a[1]"),
            ({"a": {"k\x00": 1}}, "inputs.a.k\x00"),
        ):
            with pytest.raises(ValidationError) as caught:
                await service.update_session_progress(
                    SYSTEM, project_id, {"sessionId": session.id, "inputs": inputs}
                )
            assert caught.value.details[0]["path"] == path
        with pytest.raises(ValidationError) as caught:
            await service.fail_session(
                SYSTEM, project_id, {"sessionId": session.id, "reason": "flash\x00"}
            )
        assert caught.value.details[0]["path"] == "reason"
        with pytest.raises(ValidationError):
            await service.create_project(SYSTEM, {"name": "Nul\x00"})

        with pytest.raises(NotFoundError):
            await service.get_session(SYSTEM, project_id, "s\x00")
        with pytest.raises(NotFoundError):
            await service.update_session_progress(SYSTEM, project_id, {"sessionId": "s\x00"})
        assert (await service.list_sessions(SYSTEM, project_id, {"eventId": "e\x00"})).items == []
        assert await service.get_session(SYSTEM, project_id, session.id) == session


async def test_numbers_come_back_as_the_same_json_numbers(
    postgres: PostgresDatabase, schema: str
) -> None:
    # The documents are kept as the text the store wrote: every number keeps its value and its
    # type, even a float past 2**53 that a decimal type would turn into another integer.
    inputs = {
        "int": 2**63 - 1,
        "float": 0.1,
        "whole": 3.0,
        "huge": 1e300,
        "exponent": 1e16,
        "past_2_53": 5.373174357926853e16,
    }
    async with SessionRuntime(quick_store(postgres.dsn, schema)) as runtime:
        session = await start_session(runtime.service)
        await runtime.service.update_session_progress(
            SYSTEM, session.project_id, {"sessionId": session.id, "inputs": inputs}
        )
        stored = (await runtime.service.get_session(SYSTEM, session.project_id, session.id)).inputs

    assert stored == inputs
    assert {key: type(value) for key, value in stored.items()} == {
        "int": int,
        "float": float,
        "whole": float,
        "huge": float,
        "exponent": float,
        "past_2_53": float,
    }
