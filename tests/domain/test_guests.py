"""The rules of join links and guest ids: each refusal says why."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from session_runtime import JoinLink, ValidationError
from session_runtime.domain.guests import guest_id_of, new_code, token_id_of_guest

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def link(**changes: object) -> JoinLink:
    values: dict[str, object] = {
        "id": "l1",
        "project_id": "p1",
        "code": new_code(),
        "created_by": "user:ada",
        "created_at": NOW,
    }
    values.update(changes)
    return JoinLink.model_validate(values)


def test_codes_carry_at_least_128_random_bits_and_are_url_safe() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        assert len(raw) * 8 >= 128
        assert code[0] != "-" and set(code) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_an_open_link_lets_one_in() -> None:
    assert link().refusal(NOW) is None
    assert (
        link(max_guests=2, joined_count=1, expires_at=NOW + timedelta(seconds=1)).refusal(NOW)
        is None
    )


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"revoked_at": NOW}, "revoked", "was revoked"),
        ({"expires_at": NOW}, "expired", "has expired"),
        ({"max_guests": 3, "joined_count": 3}, "full", "all 3 places are taken"),
        # Revoked says so even when it is also expired and full.
        ({"revoked_at": NOW, "expires_at": NOW, "max_guests": 1, "joined_count": 1}, "revoked",
         "was revoked"),
    ],
)  # fmt: skip
def test_each_refusal_names_its_reason(changes: dict[str, object], reason: str, words: str) -> None:
    refusal = link(**changes).refusal(NOW)
    assert refusal is not None
    assert refusal.code == "FAILED_PRECONDITION"
    assert refusal.details["reason"] == reason
    assert words in refusal.message


def test_a_guest_id_is_the_created_by_of_its_token() -> None:
    assert guest_id_of("t1") == "guest:t1"
    assert token_id_of_guest("guest:t1") == "t1"
    for bad in ("t1", "user:ada", "guest:", ""):
        with pytest.raises(ValidationError):
            token_id_of_guest(bad)
