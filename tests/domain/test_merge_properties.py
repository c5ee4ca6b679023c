"""Properties of the deep merge over arbitrary JSON documents."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from session_runtime import deep_merge

# Few distinct keys, so that patches often meet what is stored.
keys = st.sampled_from(["a", "b", "c", "d", "é", ""])
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(keys, json_values, max_size=5)

SETTINGS = settings(max_examples=100, deadline=None)


def leaf_paths(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value that is not an object, with that value."""
    found: list[tuple[Any, ...]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            found.extend(leaf_paths(value, (*prefix, key)))
        else:
            found.append(((*prefix, key), value))
    return found


def object_paths(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            found.append((*prefix, key))
            found.extend(object_paths(value, (*prefix, key)))
    return found


def at(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def assert_untouched(stored: dict[str, Any], patch: dict[str, Any], merged: dict[str, Any]) -> None:
    """What the patch does not name is exactly as it was stored."""
    for key, value in stored.items():
        if key not in patch:
            assert merged[key] == value
        elif isinstance(value, dict) and isinstance(patch[key], dict):
            assert_untouched(value, patch[key], merged[key])


@SETTINGS
@given(documents)
def test_merging_an_empty_patch_is_the_identity(stored: dict[str, Any]) -> None:
    assert deep_merge(stored, {}) == stored


@SETTINGS
@given(documents)
def test_merging_into_nothing_gives_the_patch(patch: dict[str, Any]) -> None:
    assert deep_merge({}, patch) == patch


@SETTINGS
@given(documents, documents)
def test_every_patch_leaf_is_in_the_result(stored: dict[str, Any], patch: dict[str, Any]) -> None:
    merged = deep_merge(stored, patch)

    for path, value in leaf_paths(patch):
        assert at(merged, path) == value
    for path in object_paths(patch):
        assert isinstance(at(merged, path), dict)


@SETTINGS
@given(documents, documents)
def test_keys_not_in_the_patch_are_untouched(stored: dict[str, Any], patch: dict[str, Any]) -> None:
    assert_untouched(stored, patch, deep_merge(stored, patch))


@SETTINGS
@given(documents, documents)
def test_the_result_has_exactly_the_keys_of_both(
    stored: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert set(deep_merge(stored, patch)) == set(stored) | set(patch)


@SETTINGS
@given(documents, documents)
def test_merge_is_idempotent(stored: dict[str, Any], patch: dict[str, Any]) -> None:
    once = deep_merge(stored, patch)
    assert deep_merge(once, patch) == once


@SETTINGS
@given(documents, documents)
def test_inputs_are_not_mutated(stored: dict[str, Any], patch: dict[str, Any]) -> None:
    stored_before, patch_before = copy.deepcopy(stored), copy.deepcopy(patch)

    merged = deep_merge(stored, patch)
    # Changing the result must not reach back into the patch either.
    for path in object_paths(patch):
        at(merged, path)["added after the merge"] = True
    for path, value in leaf_paths(patch):
        if isinstance(value, list):
            at(merged, path).append("added after the merge")

    assert stored == stored_before
    assert patch == patch_before
