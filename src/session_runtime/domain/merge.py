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
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = deep_merge(current, value)
        elif isinstance(value, Mapping):
            # A copy, so that later merges never alias the caller's object.
            merged[key] = deep_merge({}, value)
        else:
            merged[key] = value
    return merged
