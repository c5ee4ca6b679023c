"""The one id rule: every id, generated or chosen, is a URL path segment as it is."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_runtime.domain.ids import MAX_ID_LENGTH, check_id, is_url_safe_id, new_id


def test_generated_ids_follow_the_rule() -> None:
    for _ in range(5_000):
        assert is_url_safe_id(new_id())


@pytest.mark.parametrize(
    "chosen", ["kiosk", "Kiosk_1", "launch-2026", "_hidden", "7", "x" * MAX_ID_LENGTH]
)
def test_plain_ids_are_accepted(chosen: str) -> None:
    assert check_id(chosen) == chosen


@pytest.mark.parametrize(
    "chosen",
    [
        "",
        "kiosk/1",
        "a b",
        "a?b",
        "a#b",
        "%41",
        ".",
        "..",
        "a.b",
        "café",
        "-flag",
        "tab\there",
        "x" * (MAX_ID_LENGTH + 1),
    ],
)
def test_ids_no_url_reaches_as_typed_are_refused(chosen: str) -> None:
    assert not is_url_safe_id(chosen)
    with pytest.raises(ValueError, match="letters"):
        check_id(chosen)


@given(st.text(max_size=40))
def test_an_accepted_id_needs_no_escaping_in_a_path(text: str) -> None:
    if is_url_safe_id(text):
        assert quote(text, safe="") == text
        assert text not in (".", "..")
