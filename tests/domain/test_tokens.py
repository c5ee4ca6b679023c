"""Ids and tokens: random, URL-safe, and stored only as a hash."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from session_runtime import Guest, Member, Role, TokenRecord
from session_runtime.domain.tokens import (
    TOKEN_PREFIX,
    TokenKind,
    hash_token,
    looks_like_token,
    new_id,
    new_secret,
)

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
CREATED = datetime(2026, 1, 15, tzinfo=UTC)


def test_ids_are_url_safe_and_carry_at_least_120_bits() -> None:
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in ids:
        assert URL_SAFE.match(value)
        # 6 bits per base64url character.
        assert len(value) * 6 >= 120


def test_secrets_are_prefixed_long_and_unique() -> None:
    secrets = {new_secret() for _ in range(500)}
    assert len(secrets) == 500
    for secret in secrets:
        assert secret.startswith(TOKEN_PREFIX)
        assert URL_SAFE.match(secret.removeprefix(TOKEN_PREFIX))
        assert len(secret.removeprefix(TOKEN_PREFIX)) * 6 >= 256
        assert looks_like_token(secret)


def test_the_stored_hash_is_sha256_of_the_secret() -> None:
    secret = new_secret()
    stored = hash_token(secret)
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored
    assert hash_token(secret) == stored
    assert hash_token(new_secret()) != stored


def test_hashing_never_fails_on_odd_text() -> None:
    assert len(hash_token("\ud800 not a token")) == 64


def test_looks_like_token() -> None:
    assert not looks_like_token("")
    assert not looks_like_token("Bearer abc")
    assert not looks_like_token(TOKEN_PREFIX + "short")
    assert not looks_like_token(TOKEN_PREFIX + "x" * 300)


def test_a_member_token_stands_for_a_member() -> None:
    record = TokenRecord(
        id="t1",
        project_id="p1",
        kind=TokenKind.MEMBER,
        token_hash="h",
        created_at=CREATED,
        user="ada",
        role=Role.EDITOR,
    )
    expected = Member(project_id="p1", user="ada", role=Role.EDITOR, token_id="t1")
    assert record.principal() == expected
    assert not record.is_revoked


def test_a_guest_token_stands_for_a_guest() -> None:
    record = TokenRecord(
        id="t2",
        project_id="p1",
        kind=TokenKind.GUEST,
        token_hash="h",
        created_at=CREATED,
        event_id="e1",
        revoked_at=CREATED,
    )
    assert record.principal() == Guest(project_id="p1", token_id="t2", event_id="e1")
    assert record.is_revoked


def test_ids_never_start_with_a_dash() -> None:
    from session_runtime.domain.tokens import new_id

    ids = [new_id() for _ in range(5_000)]
    assert not [value for value in ids if value.startswith("-")]
    assert len(set(ids)) == len(ids)
