"""Idempotency keys: a write sent twice is applied once, and answered the same both times.

A caller sends ``Idempotency-Key: <key>`` with a mutation. The store keeps the key, who sent it,
a fingerprint of the request and the response, in the same transaction as the write. The same
caller sending the same key again gets:

- the same request (same fingerprint): the stored response again, and nothing is written;
- a different request: ``ValidationError`` (422), since the key was reused for another
  request. 422 is what the IETF's ``Idempotency-Key`` header draft prescribes for this case,
  and retrying cannot fix it, so clients drop such a write instead of retrying it.

Only successful answers are stored: a refused request wrote nothing, so sending it again with
the same key is a new attempt (a write refused because storage was down may then succeed).

This module is pure: the rules and the values; the stores hold the records.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

import orjson

from .auth import Guest, Member, Principal
from .errors import ValidationError

__all__ = [
    "IDEMPOTENCY_HEADER",
    "JOIN_CALLER_PREFIX",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "IdempotencyClaim",
    "IdempotencyRecord",
    "RequestReplayed",
    "StoredResponse",
    "idempotency_caller",
    "parse_idempotency_key",
    "request_fingerprint",
    "resolve_existing",
]

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotency-Replayed"
JOIN_CALLER_PREFIX: Final = "join:"
"""How the keys of joins are named: a join has no token, only its link and client address."""
MAX_KEY_LENGTH: Final = 255
_KEY_PATTERN: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")

ResultT = TypeVar("ResultT")
StoreResultT = TypeVar("StoreResultT")


def parse_idempotency_key(value: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header: 1 to 255 visible ASCII characters.

    >>> parse_idempotency_key("7d3f0c1e-5b2a-4f7e-9c1d-0a1b2c3d4e5f")
    '7d3f0c1e-5b2a-4f7e-9c1d-0a1b2c3d4e5f'
    >>> parse_idempotency_key(None) is None
    True
    """
    if value is None:
        return None
    if _KEY_PATTERN.fullmatch(value) is None:
        raise ValidationError.at(
            IDEMPOTENCY_HEADER,
            f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces)",
        )
    return value


def idempotency_caller(principal: Principal) -> str:
    """Whose keys these are: the token's record id (a guest's is its guest id).

    Keys are scoped to their caller: two callers may pick the same key without meeting.
    """
    if isinstance(principal, Guest):
        return principal.created_by
    if isinstance(principal, Member) and principal.token_id is not None:
        return f"token:{principal.token_id}"
    return principal.created_by


def request_fingerprint(
    method: str, path: str, body: Mapping[str, Any] | None, if_match: str | None
) -> str:
    """A digest of what makes two requests the same: method, path, body and ``If-Match``.

    The body is compared as JSON, not as bytes: key order and spacing do not matter.

    >>> a = request_fingerprint("PATCH", "/v1/p/s", {"a": 1, "b": 2}, None)
    >>> a == request_fingerprint("PATCH", "/v1/p/s", {"b": 2, "a": 1}, None)
    True
    >>> a == request_fingerprint("PATCH", "/v1/p/s", {"a": 1, "b": 2}, '"3"')
    False
    """
    canonical = orjson.dumps(
        [method.upper(), path, body or {}, if_match], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An answer as it is sent again: status, the headers that matter, the body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def headers_json(self) -> str:
        return orjson.dumps([list(pair) for pair in self.headers]).decode()

    @staticmethod
    def headers_from_json(text: str) -> tuple[tuple[str, str], ...]:
        return tuple((str(name), str(value)) for name, value in orjson.loads(text))


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a store keeps of one keyed request."""

    caller: str
    key: str
    fingerprint: str
    response: StoredResponse
    project_id: str | None
    session_id: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyClaim(Generic[ResultT]):
    """A keyed request on its way to the store.

    ``render`` turns the operation's result into the response to keep; the store calls it
    inside the write's transaction, so the response is stored exactly when the write is.
    """

    caller: str
    key: str
    fingerprint: str
    render: Callable[[ResultT], StoredResponse]
    now: datetime
    expires_at: datetime

    def adapted(
        self, complete: Callable[[StoreResultT], ResultT]
    ) -> IdempotencyClaim[StoreResultT]:
        """This claim for a store whose result is less than the answer: ``complete`` adds
        what the operation holds outside the store (a secret shown once) before rendering."""
        render = self.render
        return IdempotencyClaim(
            caller=self.caller,
            key=self.key,
            fingerprint=self.fingerprint,
            render=lambda result: render(complete(result)),
            now=self.now,
            expires_at=self.expires_at,
        )

    def record(
        self, result: ResultT, *, project_id: str | None, session_id: str | None
    ) -> IdempotencyRecord:
        return IdempotencyRecord(
            caller=self.caller,
            key=self.key,
            fingerprint=self.fingerprint,
            response=self.render(result),
            project_id=project_id,
            session_id=session_id,
            created_at=self.now,
            expires_at=self.expires_at,
        )


class RequestReplayed(Exception):
    """How a store tells the operation that this request was answered before.

    Not a ``SessionRuntimeError``: nothing failed. It carries the stored response, which the
    API sends again (with ``Idempotency-Replayed: true``); nothing is written.
    """

    def __init__(self, response: StoredResponse) -> None:
        super().__init__(f"replayed the stored response ({response.status})")
        self.response = response


def resolve_existing(existing: IdempotencyRecord | None, claim: IdempotencyClaim[Any]) -> None:
    """Inside the write's transaction: go on (no live record), replay, or refuse.

    Raises ``RequestReplayed`` for the same request, ``ValidationError`` for another one under
    the same key. A record past its expiry counts as absent (the sweeper deletes it later).
    """
    if existing is None or existing.expires_at <= claim.now:
        return
    if existing.fingerprint != claim.fingerprint:
        raise ValidationError(
            f"this {IDEMPOTENCY_HEADER} was used for a different request; "
            "send a new key for a new request",
            details=[
                {
                    "path": IDEMPOTENCY_HEADER,
                    "message": "already used with another method, path, body or If-Match",
                }
            ],
        )
    raise RequestReplayed(existing.response)
