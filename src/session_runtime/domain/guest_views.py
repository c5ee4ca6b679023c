"""What the guest routes answer, as camelCase JSON: join links, a joined guest, own sessions,
share links, a shared result, an erasure. The server writes these and the SDK reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from .guests import GuestErasure, JoinedGuest, JoinLink, ShareLink
from .models import Session


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class JoinLinkView(_Body):
    """A join link: ``url`` is what its QR code carries; ``joinedCount`` how many joined."""

    id: str
    project_id: str
    event_id: str | None
    label: str | None
    code: str
    url: str
    qr_svg_url: str
    qr_png_url: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    max_guests: int | None
    joined_count: int
    revoked_at: datetime | None

    @classmethod
    def of(cls, link: JoinLink, base_url: str) -> JoinLinkView:
        return cls(
            **link.model_dump(),
            url=f"{base_url}/join/{link.code}",
            qr_svg_url=f"/v1/join/{link.code}/qr.svg",
            qr_png_url=f"/v1/join/{link.code}/qr.png",
        )


class JoinLinkList(_Body):
    items: list[JoinLinkView]


class JoinResponse(_Body):
    """A fresh guest: keep ``token`` (shown once); ``guestId`` is its sessions' ``createdBy``."""

    token: str
    guest_id: str
    project_id: str
    event_id: str | None
    expires_at: datetime

    @classmethod
    def of(cls, joined: JoinedGuest) -> JoinResponse:
        assert joined.token.expires_at is not None
        return cls(
            token=joined.secret,
            guest_id=joined.guest_id,
            project_id=joined.token.project_id,
            event_id=joined.token.event_id,
            expires_at=joined.token.expires_at,
        )


class OwnSessions(_Body):
    """The caller's own sessions: active first, then newest first."""

    items: list[Session]


class ShareLinkView(_Body):
    id: str
    project_id: str
    session_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, share: ShareLink) -> ShareLinkView:
        # Read by field name, so the code's hash (not a field here) never leaves the server.
        return cls.model_validate(share, from_attributes=True)


class CreatedShareLink(ShareLinkView):
    """A new share link; ``url`` (the page) and ``jsonUrl`` carry its code, shown only now."""

    url: str
    json_url: str


class ShareLinkList(_Body):
    items: list[ShareLinkView]


class SharedResultView(_Body):
    """What a share link shows: the session's outputs (media and their links), nothing else."""

    outputs: dict[str, Any]
    completed_at: datetime | None
    expires_at: datetime


class ErasureView(_Body):
    """What erasing a guest removed."""

    guest_id: str
    sessions: int
    share_links: int
    tokens: int

    @classmethod
    def of(cls, erasure: GuestErasure) -> ErasureView:
        return cls.model_validate(erasure, from_attributes=True)
