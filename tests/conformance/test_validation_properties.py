"""Whatever a caller sends, a write either succeeds or is refused with the contract's own error,
and a refused write leaves everything as it was."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from collections.abc import Callable, Coroutine
from types import MappingProxyType
from typing import Any, TypeVar

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from session_runtime import (
    SYSTEM,
    ResourceExhaustedError,
    SessionRuntime,
    SessionService,
    ValidationError,
    deep_merge,
)

from ..factories import Catalog, ManualClock, StoreFactory, build_catalog

T = TypeVar("T")

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- what callers might send ------------------------------------------------------------------

valid_characters = st.characters(exclude_categories=["Cs"])
any_character = st.characters(exclude_categories=()) | st.characters(categories=["Cs"])
valid_keys = st.text(valid_characters, min_size=1, max_size=8)
valid_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(valid_characters, max_size=12)
)
valid_json = st.recursive(
    valid_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(valid_keys, children, max_size=4)
    ),
    max_leaves=12,
)
valid_objects = st.dictionaries(valid_keys, valid_json, max_size=5)

texts = st.text(any_character, max_size=12) | st.sampled_from(
    ["", "ok", "é", "🎉", "\ud800", "a\udfffb", "\x00", "x" * 1_100_000, "é" * 600_000]
)
integers = st.integers() | st.sampled_from(
    [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**40, 2**31, -1]
)
floats = st.floats(allow_nan=True, allow_infinity=True)
not_json = st.sampled_from(
    [
        {1, 2},
        b"bytes",
        bytearray(b"x"),
        decimal.Decimal("1.5"),
        datetime.datetime(2026, 1, 15),
        complex(1, 2),
        MappingProxyType({"a": 1}),
        range(2),
        frozenset(),
    ]
) | st.builds(object)
keys = (
    st.text(any_character, max_size=6)
    | st.sampled_from(["", "k" * 1500, "k" * 1501, "é" * 750, "é" * 751, "\udc00"])
    | st.integers(-3, 3)
    | st.none()
)


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = {f"k{level}": value} if level % 3 else [value]
    return value


deep = st.builds(nested, st.integers(15, 40), st.none() | st.integers(0, 9))
leaves = valid_scalars | st.none() | integers | floats | texts | not_json | deep
json_ish = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)
oversized = st.sampled_from(
    [
        {"essay": "x" * 1_100_000},
        {"essay": "é" * 600_000},
        {f"k{index}": "v" * 1000 for index in range(1100)},
    ]
)
inputs = st.one_of(
    valid_objects,
    valid_objects,
    st.dictionaries(keys, json_ish, max_size=5),
    json_ish,
    oversized,
)

urls = (
    st.sampled_from(
        [
            "https://cdn.example.com/p/1.jpg",
            "http://127.0.0.1:8000/a.png",
            "/relative.png",
            "ftp://cdn.example.com/a.png",
            "http://",
            "https://cdn.example.com/a b",
            "https://cdn.example.com/\ud800",
            "javascript:alert(1)",
        ]
    )
    | texts
)
valid_references = st.fixed_dictionaries(
    {
        "mediaAssetId": st.text(valid_characters, min_size=1, max_size=12),
        "url": st.sampled_from(["https://cdn.example.com/p/1.jpg", "http://127.0.0.1/a.png"]),
    }
)
references = st.fixed_dictionaries(
    {"mediaAssetId": texts | json_ish, "url": urls | json_ish},
    optional={"width": json_ish, "mediaAssetID": texts},
)
outputs = st.one_of(
    st.dictionaries(valid_keys, valid_references, max_size=3),
    st.dictionaries(valid_keys, valid_references, max_size=3),
    st.dictionaries(keys, references | valid_references | json_ish, max_size=3),
    json_ish,
)
step_indexes = st.one_of(
    st.integers(0, 2**31 - 1),
    st.integers(0, 50),
    integers | floats | st.booleans() | texts,
)
server_fields = st.dictionaries(
    st.sampled_from(["status", "version", "updatedAt", "createdAt", "sessionID", "extra"]),
    json_ish,
    min_size=1,
    max_size=2,
)


@st.composite
def progress_payloads(draw: st.DrawFn) -> Any:
    """An update input without its ``sessionId``, mostly valid, often not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_ish)
    payload: dict[str, Any] = {}
    if draw(st.booleans()):
        payload["currentStepIndex"] = draw(step_indexes)
    if draw(st.booleans()):
        payload["inputs"] = draw(inputs)
    if draw(st.booleans()):
        payload["outputs"] = draw(outputs)
    if draw(st.integers(0, 5)) == 0:
        payload.update(draw(server_fields))
    return payload


def run_with_runtime(
    store_factory: StoreFactory,
    clock: ManualClock,
    check: Callable[[Callable[[Coroutine[Any, Any, T]], T], SessionService, Catalog], None],
) -> None:
    """Open one runtime on a loop of this test's own, and hand ``check`` a way to use it."""
    with asyncio.Runner() as runner:
        runtime = SessionRuntime(store_factory(), clock=clock)
        runner.run(runtime.open())
        try:
            catalog = runner.run(build_catalog(runtime.service))
            check(runner.run, runtime.service, catalog)
        finally:
            runner.run(runtime.close())


def as_stored(value: Any) -> Any:
    """A value as it reads back from storage: JSON, decoded."""
    return orjson.loads(orjson.dumps(value))


# -- progress ---------------------------------------------------------------------------------


async def attempt_progress(service: SessionService, catalog: Catalog, payload: Any) -> None:
    project_id = catalog.project_id
    created = await service.create_session(SYSTEM, catalog.session_input())
    session_id = created.session_id
    before = await service.update_session_progress(
        SYSTEM,
        project_id,
        {"sessionId": session_id, "currentStepIndex": 1, "inputs": {"kept": [1, {"a": "b"}]}},
    )
    data = {"sessionId": session_id, **payload} if isinstance(payload, dict) else payload

    try:
        result = await service.update_session_progress(SYSTEM, project_id, data)
    except (ValidationError, ResourceExhaustedError) as error:
        event(f"refused: {error.code}")
        assert error.code in ("VALIDATION_ERROR", "RESOURCE_EXHAUSTED")
        assert await service.get_session(SYSTEM, project_id, session_id) == before
        return

    event("written")
    assert await service.get_session(SYSTEM, project_id, session_id) == result
    assert result.version == before.version + 1
    assert isinstance(payload, dict)
    if payload.get("inputs"):
        assert result.inputs == as_stored(deep_merge(before.inputs, payload["inputs"]))
    else:
        assert result.inputs == before.inputs
    if payload.get("currentStepIndex") is not None:
        assert result.current_step_index == payload["currentStepIndex"]


def test_progress_input_never_fails_any_other_way(
    store_factory: StoreFactory, clock: ManualClock
) -> None:
    def check(
        run: Callable[[Coroutine[Any, Any, None]], None], service: SessionService, catalog: Catalog
    ) -> None:
        @SETTINGS
        @given(progress_payloads())
        def progress_is_answered(payload: Any) -> None:
            run(attempt_progress(service, catalog, payload))

        progress_is_answered()

    run_with_runtime(store_factory, clock, check)


# -- create -----------------------------------------------------------------------------------

CREATE_FIELDS = {
    "projectId": "project_id",
    "eventId": "event_id",
    "experienceId": "experience_id",
    "mode": None,
    "configSource": None,
}
KNOWN_NAMES = {
    "projectId",
    "eventId",
    "experienceId",
    "mode",
    "configSource",
    "project_id",
    "event_id",
    "experience_id",
    "config_source",
}
bad_ids = (
    st.sampled_from(["", "x" * 129, "\ud800", "ok\udc00"])
    | json_ish.filter(lambda value: not isinstance(value, str))
    | st.text(any_character, min_size=1, max_size=5).map(lambda text: text + "\ud83d")
)
bad_modes = texts.filter(lambda text: text not in ("preview", "guest")) | json_ish.filter(
    lambda value: not isinstance(value, str)
)
bad_sources = texts.filter(lambda text: text not in ("draft", "published")) | json_ish.filter(
    lambda value: not isinstance(value, str)
)


@st.composite
def create_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A create input as ``(overrides, is_valid)``: each field right, wrong, or missing."""
    overrides: dict[str, Any] = {}
    is_valid = True
    for field, bad in (
        ("projectId", bad_ids),
        ("eventId", bad_ids),
        ("experienceId", bad_ids),
        ("mode", bad_modes),
        ("configSource", bad_sources),
    ):
        choice = draw(st.sampled_from(["keep"] * 5 + ["bad", "missing"]))
        if choice == "bad":
            overrides[field] = draw(bad)
            is_valid = False
        elif choice == "missing":
            overrides[field] = None
            is_valid = False
    if draw(st.integers(0, 3)) == 0:
        extra = draw(st.text(any_character, min_size=1, max_size=8))
        if extra not in KNOWN_NAMES:
            overrides[extra] = draw(json_ish)
            is_valid = False
    return overrides, is_valid


async def count_sessions(service: SessionService, project_id: str) -> int:
    return len((await service.list_sessions(SYSTEM, project_id, {"limit": 500})).items)


async def attempt_create(
    service: SessionService, catalog: Catalog, overrides: dict[str, Any], is_valid: bool
) -> None:
    data = catalog.session_input(mode="guest", configSource="published")
    for field, value in overrides.items():
        if value is None and field in CREATE_FIELDS:
            del data[field]
        else:
            data[field] = value
    count = await count_sessions(service, catalog.project_id)

    try:
        result = await service.create_session(SYSTEM, data)
    except ValidationError as error:
        event("refused")
        assert not is_valid
        assert error.details
        assert await count_sessions(service, catalog.project_id) == count
        return

    event("created")
    assert is_valid
    stored = await service.get_session(SYSTEM, catalog.project_id, result.session_id)
    assert stored == result.session
    assert await count_sessions(service, catalog.project_id) == count + 1


def test_create_input_never_fails_any_other_way(
    store_factory: StoreFactory, clock: ManualClock
) -> None:
    def check(
        run: Callable[[Coroutine[Any, Any, None]], None], service: SessionService, catalog: Catalog
    ) -> None:
        @settings(SETTINGS, max_examples=120)
        @given(create_payloads())
        def create_is_answered(payload: tuple[dict[str, Any], bool]) -> None:
            overrides, is_valid = payload
            run(attempt_create(service, catalog, overrides, is_valid))

        create_is_answered()

    run_with_runtime(store_factory, clock, check)
