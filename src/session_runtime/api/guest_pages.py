"""The pages guests see: ``/join/{code}`` (the guest page a QR code opens) and
``/share/{code}`` (a shared result).

The guest page is a static file beside the dashboard's, under the same Content-Security-
Policy. The share page is written here on the server, every value escaped, with no script at
all: its policy allows only its style sheet and the output images (media live elsewhere, a
CDN, as the dashboard's thumbnails do). It never carries a referrer, so the code in its
address does not leak to where the images come from.
"""

from __future__ import annotations

import html
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain.errors import NotFoundError
from .dashboard import OTHER_SECURITY_HEADERS, serve_asset
from .http import service_of

router = APIRouter(include_in_schema=False)

SHARE_PAGE_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data: http: https:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_SHARE_HEADERS: Final = {**OTHER_SECURITY_HEADERS, "Content-Security-Policy": SHARE_PAGE_POLICY}


@router.api_route("/join/{code}", methods=["GET", "HEAD"])
async def guest_page(request: Request, code: str) -> Response:
    """The guest page: it joins by the code in its address, then runs the experience."""
    return serve_asset(request, "guest.html")


@router.api_route("/share/{code}", methods=["GET", "HEAD"])
async def share_page(request: Request, code: str) -> Response:
    """A shared result: each output's image and its link, nothing else of the session."""
    try:
        result = await service_of(request).guests.shared_result(code)
    except NotFoundError as error:
        body = _page("Not available", f"<p class=notice>{html.escape(error.message)}.</p>")
        return Response(body, status_code=404, media_type="text/html", headers=_SHARE_HEADERS)
    items = "".join(_output_item(name, media) for name, media in sorted(result.outputs.items()))
    expires = result.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    content = (
        f"<ul class=outputs>{items}</ul>" if items else "<p class=notice>No media yet.</p>"
    ) + f"<p class=expiry>This link works until {html.escape(expires)}.</p>"
    body = _page("Your result", content)
    if request.method == "HEAD":
        body = b""
    return Response(body, media_type="text/html", headers=_SHARE_HEADERS)


def _output_item(name: str, media: Any) -> str:
    url = html.escape(str(media.get("url", "")), quote=True)
    label = html.escape(name)
    return (
        f'<li class=output data-output="{label}"><figure>'
        f'<a href="{url}" rel="noopener noreferrer"><img src="{url}" alt="{label}"></a>'
        f'<figcaption><a href="{url}" rel="noopener noreferrer">{label}</a></figcaption>'
        "</figure></li>"
    )


def _page(title: str, content: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<meta name=referrer content="no-referrer">'
        f"<title>{html.escape(title)}</title>"
        '<link rel=stylesheet href="/dashboard/guest.css"></head>'
        f"<body class=share><main><h1>{html.escape(title)}</h1>{content}</main></body></html>"
    ).encode()
