"""Idempotency keys on every store: kept with the write, replayed, refused, pruned, deleted.

The claims are built by ``IdempotencyKeys`` as the API builds them; the responses rendered are
the API's own (``stored_session``, ``stored_creation``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
import pytest

from session_runtime import (
    SYSTEM,
    NotFoundError,
    Principal,
    Session,
    SessionRuntime,
    SessionService,
    ValidationError,
)
from session_runtime.api.idempotency import stored_creation, stored_session
from session_runtime.domain.idempotency import IdempotencyClaim, RequestReplayed, StoredResponse
from session_runtime.idempotency import IdempotencyKeys

from ..factories import Callers, Catalog, ManualClock, NewSession, StoreFactory, build_catalog

TTL = timedelta(hours=1)


@pytest.fixture
def keys(service: SessionService, clock: ManualClock) -> IdempotencyKeys:
    return IdempotencyKeys(service.store, clock=clock, ttl=TTL)


def patch_claim(
    keys: IdempotencyKeys,
    principal: Principal,
    key: str,
    session_id: str,
    body: dict[str, Any],
    if_match: str | None = None,
) -> IdempotencyClaim[Session] | None:
    return keys.claim(
        principal,
        key,
        method="PATCH",
        path=f"/v1/projects/p/sessions/{session_id}",
        body=body,
        if_match=if_match,
        render=stored_session,
    )


async def keyed_update(
    service: SessionService,
    keys: IdempotencyKeys,
    principal: Principal,
    catalog: Catalog,
    key: str,
    body: dict[str, Any],
) -> Session | StoredResponse:
    """The session written, or the stored response when the key replayed."""
    claim = patch_claim(keys, principal, key, body["sessionId"], body)
    try:
        return await service.update_session_progress(
            principal, catalog.project_id, body, idempotency=claim
        )
    except RequestReplayed as replay:
        return replay.response


async def test_the_same_key_and_request_replays_the_stored_answer_and_writes_nothing(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    body = {"sessionId": session.id, "currentStepIndex": 1, "inputs": {"a": {"b": 1}}}
    first = await keyed_update(service, keys, SYSTEM, catalog, "k-1", body)
    assert isinstance(first, Session) and first.version == 2
    # Another write in between: a replay must answer what the first request got, not now.
    await service.update_session_progress(
        SYSTEM, catalog.project_id, {"sessionId": session.id, "inputs": {"later": True}}
    )
    again = await keyed_update(service, keys, SYSTEM, catalog, "k-1", body)
    assert isinstance(again, StoredResponse)
    assert again.status == 200
    assert dict(again.headers) == {"etag": '"2"'}
    assert orjson.loads(again.body) == first.to_json()
    stored = await service.get_session(SYSTEM, catalog.project_id, session.id)
    assert stored.version == 3
    assert stored.inputs == {"a": {"b": 1}, "later": True}


async def test_the_same_key_on_another_request_is_refused_and_writes_nothing(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    await keyed_update(
        service, keys, SYSTEM, catalog, "k-1", {"sessionId": session.id, "currentStepIndex": 1}
    )
    with pytest.raises(ValidationError) as refused:
        await keyed_update(
            service, keys, SYSTEM, catalog, "k-1", {"sessionId": session.id, "currentStepIndex": 2}
        )
    assert refused.value.details[0]["path"] == "Idempotency-Key"
    # If-Match is part of the request too.
    claim = patch_claim(
        keys, SYSTEM, "k-1", session.id, {"sessionId": session.id, "currentStepIndex": 1}, '"2"'
    )
    with pytest.raises(ValidationError):
        await service.update_session_progress(
            SYSTEM,
            catalog.project_id,
            {"sessionId": session.id, "currentStepIndex": 1},
            expected_version=2,
            idempotency=claim,
        )
    stored = await service.get_session(SYSTEM, catalog.project_id, session.id)
    assert (stored.version, stored.current_step_index) == (2, 1)


async def test_keys_belong_to_their_caller(
    service: SessionService,
    keys: IdempotencyKeys,
    catalog: Catalog,
    callers: Callers,
    new_session: NewSession,
) -> None:
    first, second = await callers.editor(), await callers.editor()
    session = await new_session()
    body = {"sessionId": session.id, "inputs": {"n": 1}}
    assert isinstance(await keyed_update(service, keys, first, catalog, "same", body), Session)
    # The other caller's identical key is a request of its own: applied, not replayed.
    written = await keyed_update(service, keys, second, catalog, "same", body)
    assert isinstance(written, Session) and written.version == 3


async def test_concurrent_requests_with_one_key_apply_once(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    body = {"sessionId": session.id, "inputs": {"count": 1}, "currentStepIndex": 4}
    outcomes = await asyncio.gather(
        *(keyed_update(service, keys, SYSTEM, catalog, "once", body) for _ in range(20))
    )
    written = [outcome for outcome in outcomes if isinstance(outcome, Session)]
    replayed = [outcome for outcome in outcomes if isinstance(outcome, StoredResponse)]
    assert len(written) == 1 and len(replayed) == 19
    assert all(orjson.loads(r.body) == written[0].to_json() for r in replayed)
    stored = await service.get_session(SYSTEM, catalog.project_id, session.id)
    assert stored.version == 2


async def test_a_keyed_create_replays_the_same_session(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog
) -> None:
    body = catalog.session_input()

    async def create() -> str:
        claim = keys.claim(
            SYSTEM,
            "create-1",
            method="POST",
            path="/v1/projects/p/sessions",
            body=body,
            if_match=None,
            render=stored_creation,
        )
        try:
            return (await service.create_session(SYSTEM, body, idempotency=claim)).session_id
        except RequestReplayed as replay:
            assert replay.response.status == 201
            assert dict(replay.response.headers)["location"].endswith(
                orjson.loads(replay.response.body)["sessionId"]
            )
            session_id: str = orjson.loads(replay.response.body)["sessionId"]
            return session_id

    ids = await asyncio.gather(*(create() for _ in range(5)))
    assert len(set(ids)) == 1
    page = await service.list_sessions(SYSTEM, catalog.project_id)
    assert [session.id for session in page.items] == [ids[0]]


async def test_a_no_op_transition_keeps_its_key(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    await service.complete_session(SYSTEM, catalog.project_id, session.id)

    def claim(reason: str) -> IdempotencyClaim[Session] | None:
        return keys.claim(
            SYSTEM, "done", method="POST", path="/complete", body={"r": reason},
            if_match=None, render=stored_session,
        )  # fmt: skip

    repeated = await service.complete_session(
        SYSTEM, catalog.project_id, session.id, idempotency=claim("a")
    )
    assert repeated.version == 2
    with pytest.raises(ValidationError):
        await service.complete_session(
            SYSTEM, catalog.project_id, session.id, idempotency=claim("b")
        )


async def test_a_refused_write_keeps_no_key(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog, new_session: NewSession
) -> None:
    session = await new_session()
    await service.complete_session(SYSTEM, catalog.project_id, session.id)
    body = {"sessionId": session.id, "currentStepIndex": 1}
    for _ in range(2):  # refused both times: the refusal was not stored as an answer
        with pytest.raises(Exception) as refused:
            await keyed_update(service, keys, SYSTEM, catalog, "late", body)
        assert getattr(refused.value, "code", None) == "FAILED_PRECONDITION"


async def test_keys_hold_across_a_restart(store_factory: StoreFactory, clock: ManualClock) -> None:
    async with SessionRuntime(store_factory(), clock=clock) as runtime:
        catalog = await build_catalog(runtime.service)
        created = await runtime.service.create_session(SYSTEM, catalog.session_input())
        body = {"sessionId": created.session_id, "inputs": {"x": 1}}
        keys = IdempotencyKeys(runtime.store, clock=clock, ttl=TTL)
        first = await keyed_update(runtime.service, keys, SYSTEM, catalog, "k", body)
        assert isinstance(first, Session)
    async with SessionRuntime(store_factory(), clock=clock) as runtime:
        keys = IdempotencyKeys(runtime.store, clock=clock, ttl=TTL)
        again = await keyed_update(runtime.service, keys, SYSTEM, catalog, "k", body)
        assert isinstance(again, StoredResponse)
        assert orjson.loads(again.body) == first.to_json()
        stored = await runtime.service.get_session(SYSTEM, catalog.project_id, created.session_id)
        assert stored.version == 2


async def test_expired_keys_are_new_again_and_pruned(
    service: SessionService,
    keys: IdempotencyKeys,
    clock: ManualClock,
    catalog: Catalog,
    new_session: NewSession,
) -> None:
    session = await new_session()
    body = {"sessionId": session.id, "inputs": {"x": 1}}
    await keyed_update(service, keys, SYSTEM, catalog, "old", body)
    await keyed_update(service, keys, SYSTEM, catalog, "other", body)
    assert await keys.prune() == 0
    clock.advance(TTL)
    # Past its expiry a key is unknown: the same request applies again.
    again = await keyed_update(service, keys, SYSTEM, catalog, "old", body)
    assert isinstance(again, Session) and again.version == 4
    # "other" expired; "old" was just kept anew.
    assert await keys.prune() == 1
    replay = await keyed_update(service, keys, SYSTEM, catalog, "old", body)
    assert isinstance(replay, StoredResponse)


async def test_purge_and_erase_delete_the_keys_of_their_sessions(
    service: SessionService, clock: ManualClock, catalog: Catalog, new_session: NewSession
) -> None:
    # Kept far longer than the test moves the clock: only the deletions can remove them.
    keys = IdempotencyKeys(service.store, clock=clock, ttl=timedelta(days=30))
    old, erased, kept = await new_session(), await new_session(), await new_session()
    for index, session in enumerate((old, erased, kept)):
        body = {"sessionId": session.id, "inputs": {"secret": index}}
        await keyed_update(service, keys, SYSTEM, catalog, f"k-{index}", body)
    clock.advance(timedelta(days=2))
    for session in (erased, kept):  # recent again: purge leaves them
        await service.update_session_progress(
            SYSTEM, catalog.project_id, {"sessionId": session.id, "currentStepIndex": 1}
        )
    counts = await service.purge_sessions(SYSTEM, timedelta(days=1))
    assert sum(count.count for count in counts) == 1
    store = service.store
    deleted = await store.delete_idempotency_records_for_sessions(
        catalog.project_id, [erased.id, "no-such-session"]
    )
    assert deleted == 1
    # Nothing of the purged or erased sessions is left: their keys are new requests again
    # (the purged session is gone, so its key's request now finds no session).
    with pytest.raises(Exception) as missing:
        await keyed_update(
            service, keys, SYSTEM, catalog, "k-0", {"sessionId": old.id, "inputs": {"secret": 0}}
        )
    assert getattr(missing.value, "code", None) == "NOT_FOUND"
    rewritten = await keyed_update(
        service, keys, SYSTEM, catalog, "k-1", {"sessionId": erased.id, "inputs": {"secret": 1}}
    )
    assert isinstance(rewritten, Session)
    replayed = await keyed_update(
        service, keys, SYSTEM, catalog, "k-2", {"sessionId": kept.id, "inputs": {"secret": 2}}
    )
    assert isinstance(replayed, StoredResponse)


async def test_erasing_a_guest_leaves_nothing_of_it_in_the_key_store(
    service: SessionService, keys: IdempotencyKeys, catalog: Catalog, callers: Callers
) -> None:
    guest = await callers.guest()
    created = await service.create_session(guest, catalog.guest_input())
    own = {"sessionId": created.session_id, "inputs": {"email": "ada@example.com"}}
    by_member = {"sessionId": created.session_id, "currentStepIndex": 1}
    assert isinstance(await keyed_update(service, keys, guest, catalog, "g-1", own), Session)
    assert isinstance(await keyed_update(service, keys, SYSTEM, catalog, "m-1", by_member), Session)
    replay = await keyed_update(service, keys, SYSTEM, catalog, "m-1", by_member)
    assert isinstance(replay, StoredResponse)  # kept, with the session's data in it

    await service.guests.erase_me(guest)

    # Neither key replays what it stored: each is a new request, for a session that is gone.
    for principal, key, body in ((guest, "g-1", own), (SYSTEM, "m-1", by_member)):
        with pytest.raises(NotFoundError):
            await keyed_update(service, keys, principal, catalog, key, body)
