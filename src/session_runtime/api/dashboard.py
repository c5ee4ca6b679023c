"""The live dashboard: ``GET /`` serves its page, ``GET /dashboard/{name}`` its assets.

The files live in ``static/`` inside the package, so an installed wheel serves them as a
checkout does. They are read once, when this module is imported: the set of names is fixed
(nothing outside it can be asked for, so no path ever reaches the file system), and each
file's ETag is the hash of its bytes. Every answer is ``no-cache``: a browser revalidates and
gets ``304`` while nothing changed, and the new file as soon as the server is upgraded.

The page talks only to this server (REST and ``/v1/ws``); the Content-Security-Policy says so
to the browser, and lets images come from anywhere over http(s), because outputs are media
stored elsewhere (a CDN) that the table shows as thumbnails.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain.errors import NotFoundError

STATIC_DIRECTORY: Final = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self' ws: wss:",
        "img-src 'self' data: http: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the dashboard, in memory: it is small and asked for on every page load."""

    body: bytes
    content_type: str
    etag: str


def load_assets(directory: Path = STATIC_DIRECTORY) -> dict[str, Asset]:
    """Every servable file of ``directory`` by name (no subfolders, known types only)."""
    assets: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if not path.is_file() or content_type is None:
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[path.name] = Asset(body=body, content_type=content_type, etag=etag)
    return assets


ASSETS: Final = load_assets()
INDEX: Final = "index.html"

router = APIRouter(include_in_schema=False)


def serve_asset(request: Request, name: str) -> Response:
    """The asset, or ``304`` when the browser already holds this version of it."""
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFoundError.of("asset", name)
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    response = Response(body, media_type=asset.content_type, headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(asset.body))
    return response


@router.api_route("/", methods=["GET", "HEAD"])
async def dashboard_page(request: Request) -> Response:
    """The dashboard's one page; it signs in with a pasted token and reads ``/v1``."""
    return serve_asset(request, INDEX)


@router.api_route("/dashboard/{name}", methods=["GET", "HEAD"])
async def dashboard_asset(request: Request, name: str) -> Response:
    """A script, style sheet or image of the dashboard."""
    return serve_asset(request, name)
