"""Deep merge, the contract's rule for ``inputs`` and ``outputs``.

Objects merge key by key, recursively; anything else (scalars, lists, null) replaces what was
stored. Neither argument is modified: the result shares untouched branches with ``stored``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def deep_merge(stored: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``stored`` with ``patch`` merged into it.

    >>> deep_merge({"a": {"x": 1, "y": 2}, "l": [1]}, {"a": {"y": 3}, "l": [2], "n": None})
    {'a': {'x': 1, 'y': 3}, 'l': [2], 'n': None}
    """
    merged = dict(stored)
    for key, value in patch.items():
        if _is_object(value):
            current = merged.get(key)
            # A copy even when nothing is stored, so that the result never aliases the patch.
            merged[key] = deep_merge(current if _is_object(current) else {}, value)  # type: ignore[arg-type]
        elif type(value) is list or type(value) is tuple:
            merged[key] = _copy_array(value)
        else:
            merged[key] = value
    return merged


def _copy_array(items: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    """A copy of an array from the patch, so that the result never aliases it either."""
    copied = [
        deep_merge({}, item)
        if isinstance(item, Mapping)
        else _copy_array(item)
        if type(item) is list or type(item) is tuple
        else item
        for item in items
    ]
    return copied if type(items) is list else tuple(copied)


def _is_object(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        return True
    if kind in _NOT_OBJECTS:
        return False
    return isinstance(value, Mapping)


_NOT_OBJECTS = frozenset({str, int, float, bool, list, type(None)})
