"""The listing's and the figures' filters: one declaration, one table of query parameters."""

from __future__ import annotations

import doctest
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from session_runtime import Mode, SessionStatus
from session_runtime.client import (
    AsyncProjectClient,
    ProjectClient,
    SessionFilters,
    StatsFilters,
    filters,
    operations,
)


def test_listing_sends_each_filter_by_its_wire_name_in_a_fixed_order() -> None:
    call = operations.list_sessions(
        "p1", status=SessionStatus.ACTIVE, experience_id="x1", event_id="e1", limit=20
    )

    assert call.params == {
        "eventId": "e1",
        "experienceId": "x1",
        "limit": "20",
        "status": "active",
    }
    assert call.cache_key is not None
    assert call.cache_key[-1] == "eventId=e1&experienceId=x1&limit=20&status=active"


def test_a_filter_given_as_none_does_not_filter() -> None:
    call = operations.list_sessions("p1", event_id=None, mode=None, cursor=None)

    assert call.params == {"limit": "50"}


def test_figures_send_times_as_iso_8601_and_leave_out_what_is_not_given() -> None:
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    call = operations.session_stats("p1", mode=Mode.PREVIEW, created_from=monday)

    assert call.params == {"mode": "preview", "from": "2026-11-30T08:00:00+00:00"}


@pytest.mark.parametrize(
    ("operation", "keywords", "refused"),
    [
        (operations.list_sessions, {"evnt_id": "e1"}, "evnt_id"),
        (operations.list_sessions, {"created_from": datetime.now(UTC)}, "created_from"),
        (operations.session_stats, {"status": "active"}, "status"),
        (operations.session_stats, {"limit": 5}, "limit"),
    ],
    ids=["typo", "a figures filter", "a listing filter", "paging"],
)
def test_a_keyword_the_operation_does_not_declare_is_refused(
    operation: Callable[..., object], keywords: dict[str, object], refused: str
) -> None:
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{refused}'"):
        operation("p1", **keywords)


@pytest.mark.parametrize(
    ("method", "declaration"),
    [
        (ProjectClient.list_sessions, SessionFilters),
        (AsyncProjectClient.list_sessions, SessionFilters),
        (ProjectClient.session_stats, StatsFilters),
        (AsyncProjectClient.session_stats, StatsFilters),
    ],
    ids=["sync list", "async list", "sync stats", "async stats"],
)
def test_help_names_every_filter_the_method_takes(
    method: Callable[..., object], declaration: Any
) -> None:
    documentation = inspect.getdoc(method) or ""
    names: frozenset[str] = declaration.__optional_keys__

    assert names, "the declaration lists its filters"
    for name in names:
        assert f"``{name}``" in documentation, name
    assert declaration.__name__ in str(inspect.signature(method))


def test_the_module_examples_hold() -> None:
    failures, tried = doctest.testmod(filters)
    assert tried > 0 and failures == 0
