"""Concurrent writers never lose each other's keys, and every write adds exactly one version."""

from __future__ import annotations

import asyncio

from session_runtime import SYSTEM, Session, SessionService

from ..factories import NewSession

WRITERS = 32
KEYS_PER_WRITER = 200


async def write_keys(service: SessionService, session: Session, writer: int, count: int) -> None:
    """One writer: ``count`` updates, each adding one key of its own."""
    for index in range(count):
        await service.update_session_progress(
            SYSTEM,
            session.project_id,
            {"sessionId": session.id, "inputs": {f"w{writer}-k{index}": index}},
        )


def expected_keys(writers: range, count: int) -> dict[str, int]:
    return {f"w{w}-k{i}": i for w in writers for i in range(count)}


async def test_concurrent_writers_on_one_session_lose_nothing(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()

    await asyncio.gather(
        *(write_keys(service, session, writer, KEYS_PER_WRITER) for writer in range(WRITERS))
    )

    stored = await service.get_session(SYSTEM, session.project_id, session.id)
    assert len(stored.inputs) == WRITERS * KEYS_PER_WRITER == 6400
    assert stored.inputs == expected_keys(range(WRITERS), KEYS_PER_WRITER)
    assert stored.version == 6400 + 1


async def test_concurrent_writers_on_eight_sessions_lose_nothing(
    service: SessionService, new_session: NewSession
) -> None:
    sessions = [await new_session() for _ in range(8)]
    writers_per_session = WRITERS // len(sessions)

    await asyncio.gather(
        *(
            write_keys(service, sessions[writer % len(sessions)], writer, KEYS_PER_WRITER)
            for writer in range(WRITERS)
        )
    )

    for position, session in enumerate(sessions):
        stored = await service.get_session(SYSTEM, session.project_id, session.id)
        writers = range(position, WRITERS, len(sessions))
        assert len(writers) == writers_per_session
        assert stored.inputs == expected_keys(writers, KEYS_PER_WRITER)
        assert stored.version == writers_per_session * KEYS_PER_WRITER + 1


async def test_concurrent_step_updates_each_count_once(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()

    results = await asyncio.gather(
        *(
            service.update_session_progress(
                SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": step}
            )
            for step in range(300)
        )
    )

    assert sorted(result.version for result in results) == list(range(2, 302))
    stored = await service.get_session(SYSTEM, session.project_id, session.id)
    assert stored.version == 301
    last_writer = max(results, key=lambda result: result.version)
    assert stored.current_step_index == last_writer.current_step_index


async def test_concurrent_writers_with_expected_versions_admit_exactly_one(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()

    results = await asyncio.gather(
        *(
            service.update_session_progress(
                SYSTEM,
                session.project_id,
                {"sessionId": session.id, "inputs": {f"writer{n}": n}},
                expected_version=1,
            )
            for n in range(50)
        ),
        return_exceptions=True,
    )

    winners = [result for result in results if isinstance(result, Session)]
    assert len(winners) == 1
    assert all(
        getattr(result, "code", None) == "FAILED_PRECONDITION"
        for result in results
        if not isinstance(result, Session)
    )
    stored = await service.get_session(SYSTEM, session.project_id, session.id)
    assert stored == winners[0]
    assert stored.version == 2


async def test_concurrent_completions_write_once(
    service: SessionService, new_session: NewSession
) -> None:
    session = await new_session()

    results = await asyncio.gather(
        *(service.complete_session(SYSTEM, session.project_id, session.id) for _ in range(20))
    )

    assert {result.version for result in results} == {2}
    assert len({result.completed_at for result in results}) == 1
