"""The SDK's public face: ``__all__`` names exactly what the package exposes, and it works."""

from __future__ import annotations

import doctest
import types

import httpx
import pytest

import session_runtime
import session_runtime.client
from session_runtime.client import cache, errors, reconnect, sse


def public_members() -> set[str]:
    return {
        name
        for name, value in vars(session_runtime.client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_exports_exactly_the_public_names() -> None:
    assert set(session_runtime.client.__all__) == public_members()


def test_all_has_no_duplicates_and_is_sorted() -> None:
    names = session_runtime.client.__all__
    assert len(names) == len(set(names))
    assert names == sorted(names)


def test_errors_are_the_servers_own_classes() -> None:
    for name in session_runtime.client.__all__:
        if name.endswith("Error"):
            assert getattr(session_runtime.client, name) is getattr(session_runtime, name)


@pytest.mark.parametrize("module", [cache, errors, reconnect, sse], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: types.ModuleType) -> None:
    failures, tried = doctest.testmod(module, extraglobs={"httpx": httpx})
    assert tried > 0 and failures == 0
