"""The package's public face: ``__all__`` names exactly what it defines in public."""

from __future__ import annotations

import types

import session_runtime

INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def public_members() -> set[str]:
    return {
        name
        for name, value in vars(session_runtime).items()
        if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS)
        and not isinstance(value, types.ModuleType)
    }


def test_all_imports_are_exported() -> None:
    assert set(session_runtime.__all__) == public_members()


def test_all_has_no_duplicates() -> None:
    assert len(session_runtime.__all__) == len(set(session_runtime.__all__))


def test_every_exported_name_resolves() -> None:
    for name in session_runtime.__all__:
        assert getattr(session_runtime, name) is not None


def test_the_version_is_the_packages() -> None:
    from importlib.metadata import version

    assert session_runtime.__version__ == version("session-runtime")
