"""The guest operations: join links, anonymous guests, resume, share links, erasure.

A part of its own beside ``SessionService``, taking what it needs (the store, the change
feed, the clock, the observers) explicitly. ``service.guests`` is the one instance.

>>> guests = service.guests                                               # doctest: +SKIP
>>> link = await guests.create_join_link(owner, project_id, {"maxGuests": 300})  # doctest: +SKIP
>>> joined = await guests.join(link.code)                                # doctest: +SKIP
>>> guest = await service.authenticate(joined.secret)                    # doctest: +SKIP
>>> await guests.my_sessions(guest)                                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .catalog_service import CatalogOperations
from .domain.auth import (
    Guest,
    Member,
    Principal,
    System,
    authorize_project_admin,
    authorize_project_read,
    authorize_project_write,
)
from .domain.errors import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from .domain.guests import (
    MAX_CODE_LENGTH,
    CreateJoinLinkInput,
    CreateShareLinkInput,
    GuestErasure,
    JoinedGuest,
    JoinLink,
    ShareLink,
    new_code,
    token_id_of_guest,
)
from .domain.idempotency import IdempotencyClaim
from .domain.models import Session, SessionStatus
from .domain.tokens import TokenKind, TokenRecord, hash_token, new_id, new_secret
from .operations import OperationContext, parse_input

logger = logging.getLogger(__name__)

MAX_OWN_SESSIONS = 100


@dataclass(frozen=True, slots=True)
class GuestPolicy:
    """How long what a guest is handed lasts.

    ``guest_token_lifetime``: a joined guest's token (24 hours: a day at an event, and a phone
    that reloads the next morning still resumes). ``share_link_lifetime``: a share link's
    default (7 days: long enough to send the result on, short enough not to stay public).
    """

    guest_token_lifetime: timedelta = timedelta(hours=24)
    share_link_lifetime: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SharedResult:
    """What a share link shows: the session's ``outputs`` and nothing else about it."""

    outputs: dict[str, Any]
    completed_at: datetime | None
    expires_at: datetime


@dataclass(slots=True)
class GuestOperations:
    """Every operation of guests who arrive by a link, over the service's shared context.

    ``policy`` may be replaced once the server has read its settings."""

    context: OperationContext
    catalog: CatalogOperations  # a link's project and event must exist; erasure ends tokens
    policy: GuestPolicy = field(default_factory=GuestPolicy)

    # -- join links -----------------------------------------------------------------------

    async def create_join_link(
        self,
        principal: Principal,
        project_id: str,
        data: CreateJoinLinkInput | Mapping[str, Any] | None = None,
        *,
        idempotency: IdempotencyClaim[JoinLink] | None = None,
    ) -> JoinLink:
        """A new join link (owners and editors), optionally for one event, expiring, capped."""
        with self.context.operation("create_link"):
            parsed = parse_input(CreateJoinLinkInput, data or {})
            _authorize_link_admin(principal, project_id)
            await self.catalog.require_scope(project_id, parsed.event_id)
            now = self.context.clock()
            link = JoinLink(
                id=new_id(),
                project_id=project_id,
                event_id=parsed.event_id,
                label=parsed.label,
                code=new_code(),
                created_by=principal.created_by,
                created_at=now,
                expires_at=_after(now, parsed.expires_in_seconds),
                max_guests=parsed.max_guests,
            )
            await self.context.store.insert_join_link(link, idempotency=idempotency)
            logger.info("join link %s created in project %s", link.id, project_id)
            return link

    async def list_join_links(self, principal: Principal, project_id: str) -> list[JoinLink]:
        with self.context.operation("list_links"):
            _authorize_link_admin(principal, project_id)
            return await self.context.store.list_join_links(project_id)

    async def revoke_join_link(
        self,
        principal: Principal,
        project_id: str,
        link_id: str,
        *,
        idempotency: IdempotencyClaim[JoinLink] | None = None,
    ) -> JoinLink:
        """Stop new joins at once. Guests who joined already keep their identity until it
        expires (their sessions go on); erase a guest to end one sooner."""
        with self.context.operation("revoke_link"):
            _authorize_link_admin(principal, project_id)
            link = await self.context.store.revoke_join_link(
                project_id, link_id, self.context.clock(), idempotency=idempotency
            )
            if link is None:
                raise NotFoundError.of("join link", link_id)
            return link

    async def find_join_link(self, code: str) -> JoinLink:
        """The link of a code (for its QR code); ``NotFoundError`` for an unknown one."""
        with self.context.operation("find_link"):
            link = None
            if _is_code(code):
                link = await self.context.store.find_join_link(code)
            if link is None:
                raise _unknown_link()
            return link

    async def join(
        self, code: str, *, idempotency: IdempotencyClaim[JoinedGuest] | None = None
    ) -> JoinedGuest:
        """A fresh anonymous guest of the link's project (and event), with a token that
        expires. Refused for an unknown, revoked, expired or full link."""
        with self.context.operation("join"):
            if not _is_code(code):
                raise _unknown_link()
            now = self.context.clock()
            secret = new_secret()

            def issue(link: JoinLink) -> TokenRecord:
                refusal = link.refusal(now)
                if refusal is not None:
                    raise refusal
                return TokenRecord(
                    id=new_id(),
                    project_id=link.project_id,
                    kind=TokenKind.GUEST,
                    token_hash=hash_token(secret),
                    created_at=now,
                    event_id=link.event_id,
                    expires_at=now + self.policy.guest_token_lifetime,
                )

            def joined(pair: tuple[JoinLink, TokenRecord]) -> JoinedGuest:
                return JoinedGuest(secret=secret, token=pair[1], link=pair[0])

            # The store sees the link and the token; the kept answer also holds the secret.
            keyed = None if idempotency is None else idempotency.adapted(joined)
            try:
                link, token = await self.context.store.redeem_join_link(
                    code, issue, idempotency=keyed
                )
            except NotFoundError:
                raise _unknown_link() from None
            return JoinedGuest(secret=secret, token=token, link=link)

    # -- resume ---------------------------------------------------------------------------

    async def my_sessions(self, principal: Principal, limit: int = 50) -> list[Session]:
        """The caller's own sessions: active first, then newest first (resume after reload)."""
        with self.context.operation("my_sessions"):
            if not 1 <= limit <= MAX_OWN_SESSIONS:
                raise ValidationError.at("limit", f"must be 1 to {MAX_OWN_SESSIONS}")
            if isinstance(principal, System):
                raise PermissionDeniedError("the system principal has no sessions of its own")
            return await self.context.store.list_own_sessions(
                principal.project_id, principal.created_by, limit
            )

    # -- share links ----------------------------------------------------------------------

    async def create_share_link(
        self,
        principal: Principal,
        project_id: str,
        session_id: str,
        data: CreateShareLinkInput | Mapping[str, Any] | None = None,
        *,
        idempotency: IdempotencyClaim[tuple[ShareLink, str]] | None = None,
    ) -> tuple[ShareLink, str]:
        """A public link to a completed session's outputs; its code is returned once."""
        with self.context.operation("create_share"):
            parsed = parse_input(CreateShareLinkInput, data or {})
            session = await self._shareable_session(principal, project_id, session_id)
            if session.status is not SessionStatus.COMPLETED:
                raise FailedPreconditionError(
                    f"only a completed session can be shared; this one is {session.status.value}",
                    details={"status": session.status.value},
                )
            now = self.context.clock()
            lifetime = (
                self.policy.share_link_lifetime
                if parsed.expires_in_seconds is None
                else timedelta(seconds=parsed.expires_in_seconds)
            )
            code = new_code()
            share = ShareLink(
                id=new_id(),
                project_id=project_id,
                session_id=session_id,
                code_hash=hash_token(code),
                created_by=principal.created_by,
                created_at=now,
                expires_at=now + lifetime,
            )
            # The kept answer holds the code, which is shown only once.
            keyed = None if idempotency is None else idempotency.adapted(lambda kept: (kept, code))
            await self.context.store.insert_share_link(share, idempotency=keyed)
            return share, code

    async def list_share_links(
        self, principal: Principal, project_id: str, session_id: str
    ) -> list[ShareLink]:
        with self.context.operation("list_shares"):
            await self.context.readable_session(principal, project_id, session_id)
            return await self.context.store.list_share_links(project_id, session_id)

    async def revoke_share_link(
        self,
        principal: Principal,
        project_id: str,
        session_id: str,
        share_id: str,
        *,
        idempotency: IdempotencyClaim[ShareLink] | None = None,
    ) -> ShareLink:
        """The link stops working at once; revoking twice is harmless."""
        with self.context.operation("revoke_share"):
            await self._shareable_session(principal, project_id, session_id)
            share = await self.context.store.revoke_share_link(
                project_id, session_id, share_id, self.context.clock(), idempotency=idempotency
            )
            if share is None:
                raise NotFoundError.of("share link", share_id)
            return share

    async def shared_result(self, code: str) -> SharedResult:
        """What a share link shows, to anyone holding it: the outputs, never the inputs.

        An unknown, revoked or expired link all look the same (``NotFoundError``), so a public
        URL never confirms that a session existed.
        """
        with self.context.operation("shared_result"):
            share = (
                await self.context.store.find_share_link(hash_token(code))
                if _is_code(code)
                else None
            )
            if share is None or not share.is_usable(self.context.clock()):
                raise _unknown_share()
            session = await self.context.store.get_session(share.project_id, share.session_id)
            if session is None:
                raise _unknown_share()
            return SharedResult(
                outputs=dict(session.outputs),
                completed_at=session.completed_at,
                expires_at=share.expires_at,
            )

    # -- erasure --------------------------------------------------------------------------

    async def erase_guest(
        self,
        principal: Principal,
        project_id: str,
        guest_id: str,
        *,
        idempotency: IdempotencyClaim[GuestErasure] | None = None,
    ) -> GuestErasure:
        """Erase one guest: every session it created, their share links, its token.

        An owner erases any guest of the project; a guest may erase itself. Subscribers of
        each erased session hear that it is gone, and their streams end.
        """
        with self.context.operation("erase_guest"):
            token_id = token_id_of_guest(guest_id)
            if isinstance(principal, Guest) and principal.created_by == guest_id:
                authorize_project_read(principal, project_id)
            else:
                authorize_project_admin(principal, project_id)
            erasure = await self.context.store.erase_guest(
                project_id, guest_id, token_id, idempotency=idempotency
            )
            self.catalog.forget_cached_tokens()
            for erased_project_id, session_id in erasure.session_ids:
                self.context.feed.publish_erased(erased_project_id, session_id)
            if erasure.is_empty:
                raise NotFoundError.of("guest", guest_id)
            logger.info(
                "guest erased: %d sessions, %d share links, %d tokens",
                erasure.sessions,
                erasure.share_links,
                erasure.tokens,
            )
            return erasure

    async def erase_me(
        self, principal: Principal, *, idempotency: IdempotencyClaim[GuestErasure] | None = None
    ) -> GuestErasure:
        """A guest erases itself (its token stops working at once)."""
        if not isinstance(principal, Guest):
            raise PermissionDeniedError("only a guest erases itself; an owner erases guests")
        return await self.erase_guest(
            principal, principal.project_id, principal.created_by, idempotency=idempotency
        )

    # -- helpers --------------------------------------------------------------------------

    async def _shareable_session(
        self, principal: Principal, project_id: str, session_id: str
    ) -> Session:
        # Publishing a result is a write: viewers may not; a guest only for its own sessions.
        authorize_project_write(principal, project_id)
        return await self.context.readable_session(principal, project_id, session_id)


def _authorize_link_admin(principal: Principal, project_id: str) -> None:
    """Join links are managed by the project's owners and editors (and the system)."""
    if isinstance(principal, System):
        return
    if (
        not isinstance(principal, Member)
        or principal.project_id != project_id
        or not principal.role.can_write
    ):
        raise PermissionDeniedError("only an owner or editor of the project manages join links")


def _after(now: datetime, seconds: int | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)


def _is_code(code: str) -> bool:
    return 0 < len(code) <= MAX_CODE_LENGTH and "\x00" not in code


def _unknown_link() -> NotFoundError:
    return NotFoundError(
        "no join link has this code: check the link or ask the organiser for a new one",
        details={"resource": "join link"},
    )


def _unknown_share() -> NotFoundError:
    return NotFoundError(
        "this share link is unknown, revoked or expired", details={"resource": "share link"}
    )
