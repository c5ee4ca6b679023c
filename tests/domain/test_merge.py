"""The contract's merge rule: objects merge key by key, anything else replaces."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from session_runtime import deep_merge


def test_objects_merge_key_by_key_recursively() -> None:
    stored = {"profile": {"name": "Ada", "address": {"city": "London", "zip": "N1"}}}
    patch = {"profile": {"address": {"city": "Paris"}, "age": 36}}

    assert deep_merge(stored, patch) == {
        "profile": {"name": "Ada", "address": {"city": "Paris", "zip": "N1"}, "age": 36}
    }


def test_keys_absent_from_the_patch_are_kept() -> None:
    assert deep_merge({"a": 1, "b": 2}, {"c": 3}) == {"a": 1, "b": 2, "c": 3}


def test_lists_replace_instead_of_concatenating() -> None:
    assert deep_merge({"tags": ["a", "b", "c"]}, {"tags": ["z"]}) == {"tags": ["z"]}


def test_lists_of_objects_replace_whole() -> None:
    stored = {"answers": [{"q": 1, "a": "yes"}]}
    assert deep_merge(stored, {"answers": [{"q": 2}]}) == {"answers": [{"q": 2}]}


def test_null_replaces_a_stored_object() -> None:
    assert deep_merge({"photo": {"id": "m1"}}, {"photo": None}) == {"photo": None}


@pytest.mark.parametrize(
    ("stored", "patch"),
    [(1, 2), ("a", "b"), (True, False), (1.5, 0), ("x", 3), (None, "now set")],
)
def test_scalars_replace(stored: Any, patch: Any) -> None:
    assert deep_merge({"k": stored}, {"k": patch}) == {"k": patch}


def test_an_object_replaces_a_scalar() -> None:
    assert deep_merge({"k": "text"}, {"k": {"a": 1}}) == {"k": {"a": 1}}


def test_a_scalar_replaces_an_object() -> None:
    assert deep_merge({"k": {"a": 1}}, {"k": 7}) == {"k": 7}


def test_a_list_replaces_an_object_and_an_object_replaces_a_list() -> None:
    assert deep_merge({"k": {"a": 1}}, {"k": [1]}) == {"k": [1]}
    assert deep_merge({"k": [1]}, {"k": {"a": 1}}) == {"k": {"a": 1}}


def test_an_empty_object_in_the_patch_keeps_what_is_stored() -> None:
    assert deep_merge({"k": {"a": 1}}, {"k": {}}) == {"k": {"a": 1}}


def test_an_empty_patch_returns_an_equal_copy() -> None:
    stored = {"a": {"b": 1}}
    merged = deep_merge(stored, {})
    assert merged == stored
    assert merged is not stored


def test_neither_argument_is_modified() -> None:
    stored = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    patch = {"a": {"b": 2, "e": {"f": 1}}, "d": None}
    stored_before, patch_before = copy.deepcopy(stored), copy.deepcopy(patch)

    deep_merge(stored, patch)

    assert stored == stored_before
    assert patch == patch_before


def test_the_result_does_not_alias_objects_of_the_patch() -> None:
    patch = {"a": {"b": {"c": 1}}}
    merged = deep_merge({}, patch)

    merged["a"]["b"]["c"] = 2

    assert patch == {"a": {"b": {"c": 1}}}


def test_the_result_does_not_alias_arrays_of_the_patch() -> None:
    patch = {"answers": [1, [2], {"b": 3}], "pair": ([4], 5)}
    merged = deep_merge({}, patch)

    merged["answers"].append("added")
    merged["answers"][1].append("added")
    merged["answers"][2]["c"] = "added"
    merged["pair"][0].append("added")

    assert patch == {"answers": [1, [2], {"b": 3}], "pair": ([4], 5)}
    assert type(deep_merge({}, patch)["pair"]) is tuple


def test_a_later_merge_does_not_change_an_earlier_result() -> None:
    first = deep_merge({}, {"a": {"b": 1}})
    second = deep_merge(first, {"a": {"c": 2}})

    assert first == {"a": {"b": 1}}
    assert second == {"a": {"b": 1, "c": 2}}


def test_any_mapping_counts_as_an_object() -> None:
    merged = deep_merge(MappingProxyType({"a": {"x": 1}}), MappingProxyType({"a": {"y": 2}}))

    assert merged == {"a": {"x": 1, "y": 2}}
    assert type(merged) is dict
    assert all(type(value) is dict for value in merged.values() if isinstance(value, Mapping))
