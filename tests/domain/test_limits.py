"""Firestore's limits: size, nesting depth, field names, and what counts as JSON."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import math
from types import MappingProxyType
from typing import Any

import pytest

from session_runtime import ResourceExhaustedError, ValidationError
from session_runtime.domain.limits import (
    MAX_DEPTH,
    MAX_FIELD_NAME_BYTES,
    MAX_SESSION_BYTES,
    NUL_MESSAGE,
    SESSION_FIELDS_ALLOWANCE,
    check_json_field,
    check_session_size,
    check_stored_size,
    format_path,
    holds_nul,
    refuse_nul,
)


def nested(depth: int, leaf: Any = 1) -> dict[str, Any]:
    """An ``inputs`` value whose deepest field, counting ``inputs`` itself, is at ``depth``."""
    value: Any = leaf
    for level in reversed(range(depth - 1)):
        value = {f"k{level}": value}
    assert isinstance(value, dict)
    return value


def refusal(value: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check_json_field("inputs", value)
    assert caught.value.code == "VALIDATION_ERROR"
    return caught.value


def test_the_limits_are_firestores() -> None:
    assert MAX_SESSION_BYTES == 1024 * 1024
    assert MAX_DEPTH == 20
    assert MAX_FIELD_NAME_BYTES == 1500


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("inputs",), "inputs"),
        (("inputs", "a"), "inputs.a"),
        (("inputs", "a", 0, "b"), "inputs.a[0].b"),
        (("outputs", "photo", "url"), "outputs.photo.url"),
        (("inputs", "grid", 1, 2), "inputs.grid[1][2]"),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_plain_json_passes() -> None:
    check_json_field(
        "inputs",
        {
            "name": "Ada",
            "age": 36,
            "score": 9.5,
            "consent": True,
            "nothing": None,
            "answers": [1, "two", [3.0], {"four": 4}],
            "unicode": "héllo ✓ 🎉",
            "empty": {},
            "pair": (1, 2),
        },
    )


# -- depth ------------------------------------------------------------------------------------


def test_the_root_field_counts_as_depth_one() -> None:
    check_json_field("inputs", nested(MAX_DEPTH))
    error = refusal(nested(MAX_DEPTH + 1))
    assert error.details[0]["path"].startswith("inputs.k0.k1")
    assert "deeper" in error.details[0]["message"]


def test_an_empty_object_at_the_deepest_level_is_allowed() -> None:
    check_json_field("inputs", nested(MAX_DEPTH, leaf={}))
    check_json_field("inputs", nested(MAX_DEPTH, leaf=[]))


def test_list_items_each_add_a_level() -> None:
    check_json_field("inputs", nested(MAX_DEPTH - 1, leaf=[1]))
    refusal(nested(MAX_DEPTH - 1, leaf=[[1]]))
    refusal(nested(MAX_DEPTH - 1, leaf=[{"a": 1}]))


def test_hostile_nesting_is_refused_without_exhausting_the_stack() -> None:
    value: Any = 1
    for _ in range(100_000):
        value = [value]
    refusal({"deep": value})

    mapping: Any = {}
    for _ in range(100_000):
        mapping = {"k": mapping}
    refusal(mapping)


# -- field names ------------------------------------------------------------------------------


def test_field_names_of_1_to_1500_bytes_pass() -> None:
    check_json_field("inputs", {"a": 1, "k" * MAX_FIELD_NAME_BYTES: 1})


def test_an_empty_field_name_is_refused() -> None:
    error = refusal({"": 1})
    assert "field names" in error.details[0]["message"]


def test_a_field_name_over_1500_bytes_is_refused() -> None:
    refusal({"k" * (MAX_FIELD_NAME_BYTES + 1): 1})


def test_field_names_are_counted_in_utf8_bytes() -> None:
    check_json_field("inputs", {"é" * (MAX_FIELD_NAME_BYTES // 2): 1})
    # 751 characters, 1502 bytes.
    refusal({"é" * (MAX_FIELD_NAME_BYTES // 2 + 1): 1})
    # 376 four-byte characters: 1504 bytes.
    refusal({"🎉" * 376: 1})


def test_nested_field_names_are_checked_too() -> None:
    error = refusal({"a": [{"": 1}]})
    assert error.details[0]["path"] == "inputs.a[0]."


def test_field_names_must_be_strings() -> None:
    error = refusal({"a": {1: "one"}})
    assert error.details[0]["path"] == "inputs.a"


def test_a_field_name_with_a_lone_surrogate_is_refused() -> None:
    refusal({"\ud800": 1})


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(number: float) -> None:
    error = refusal({"a": {"b": [0, number]}})
    assert error.details == [{"path": "inputs.a.b[1]", "message": "number must be finite"}]


@pytest.mark.parametrize("number", [2**63 - 1, -(2**63), 0, -1])
def test_integers_within_64_bits_pass(number: int) -> None:
    check_json_field("inputs", {"n": number})


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**100])
def test_integers_beyond_64_bits_are_refused(number: int) -> None:
    error = refusal({"n": number})
    assert error.details[0]["path"] == "inputs.n"


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udc00\ud800"])
def test_strings_with_lone_surrogates_are_refused(text: str) -> None:
    error = refusal({"s": [text]})
    assert error.details[0]["path"] == "inputs.s[0]"


def test_a_surrogate_pair_written_as_one_character_passes() -> None:
    check_json_field("inputs", {"s": "\U0001f389"})


class Colour(enum.Enum):
    RED = "red"


class Ratio(float):
    pass


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        frozenset({1}),
        b"bytes",
        bytearray(b"x"),
        object(),
        decimal.Decimal("1.5"),
        complex(1, 2),
        datetime.datetime(2026, 1, 1),
        Colour.RED,
        Ratio(0.5),
        Point(1, 2),
        collections.UserList([1]),
        collections.UserDict({"a": 1}),
        MappingProxyType({"a": 1}),
        range(3),
    ],
    ids=lambda value: type(value).__name__,
)
def test_values_that_are_not_json_are_refused(value: Any) -> None:
    error = refusal({"a": [value]})
    assert error.details[0]["path"] == "inputs.a[0]"
    assert "not a JSON value" in error.details[0]["message"]


def test_the_first_problem_is_reported_with_its_path() -> None:
    error = refusal({"ok": 1, "bad": {"deeper": math.nan}})
    assert error.details == [{"path": "inputs.bad.deeper", "message": "number must be finite"}]
    assert str(error).startswith("inputs.bad.deeper")


# -- size -------------------------------------------------------------------------------------


def test_a_session_of_exactly_1_mib_is_allowed() -> None:
    check_session_size(MAX_SESSION_BYTES)


def test_a_session_over_1_mib_is_refused() -> None:
    with pytest.raises(ResourceExhaustedError) as caught:
        check_session_size(MAX_SESSION_BYTES + 1)
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert caught.value.http_status == 413
    assert caught.value.details == {"limit": MAX_SESSION_BYTES, "size": MAX_SESSION_BYTES + 1}


def test_stored_size_counts_both_documents_and_the_other_fields() -> None:
    room = MAX_SESSION_BYTES - SESSION_FIELDS_ALLOWANCE
    check_stored_size(b"x" * (room - 2), b"{}")
    with pytest.raises(ResourceExhaustedError):
        check_stored_size(b"x" * (room - 1), b"{}")
    with pytest.raises(ResourceExhaustedError):
        check_stored_size(b"{}", b"x" * room)


def test_the_nul_rule_finds_u0000_in_any_text_and_ignores_other_values() -> None:
    assert holds_nul("kiosk", None, "a\x00b")
    assert not holds_nul("kiosk", None, 3, "")
    assert not holds_nul()


def test_refusing_nul_names_the_first_field_that_holds_it() -> None:
    refuse_nul({"id": "p1", "name": None})
    with pytest.raises(ValidationError) as raised:
        refuse_nul({"id": "p1", "name": "a\x00", "user": "\x00"})
    assert raised.value.details == [{"path": "name", "message": NUL_MESSAGE}]
