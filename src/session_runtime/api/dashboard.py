"""The live dashboard: ``GET /`` serves its page, ``GET /dashboard/{name}`` its assets.

The files live in ``static/`` inside the package, so an installed wheel serves them as a
checkout does. They are read once, when this module is imported: the set of names is fixed
(nothing outside it can be asked for, so no path ever reaches the file system), and each
file's ETag is the hash of its bytes. Every answer is ``no-cache``: a browser revalidates and
gets ``304`` while nothing changed, and the new file as soon as the server is upgraded.

The page talks only to this server (REST and ``/v1/ws``); the Content-Security-Policy says so
to the browser, and lets images come from anywhere over http(s), because outputs are media
stored elsewhere (a CDN) that the table shows as thumbnails. Its ``connect-src`` names the
WebSocket address of this server as the browser reached it (``ws://`` + the request's
``Host`` for a page over http, ``wss://`` over https), beside ``'self'``: browsers that
predate CSP Level 3 do not count WebSockets as ``'self'``, and ``ws:``/``wss:`` alone would let
the page open one to any host.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain.errors import NotFoundError

STATIC_DIRECTORY: Final = Path(__file__).parent / "static"

DASHBOARD_POLICY: Final = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "img-src": "'self' data: http: https:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

OTHER_SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

# A host name or IPv4 address, and an optional port: what a CSP host-source may hold. Anything
# else in ``Host`` (spaces, quotes, semicolons, an IPv6 literal, which a host-source cannot
# name) never reaches the policy.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_HOST: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::(?P<port>[0-9]{{1,5}}))?")
_WEBSOCKET_SCHEMES: Final = {"http": "ws", "https": "wss"}


def websocket_source(host: str | None, scheme: str) -> str | None:
    """This server's WebSocket address as the browser reached it, for ``connect-src``.

    ``None`` when ``Host`` is missing or not a plain ``name[:port]``: the policy then keeps
    ``'self'`` alone, which is never wider.

    >>> websocket_source("Booth.example.com:8443", "https")
    'wss://booth.example.com:8443'
    >>> websocket_source("evil.example.com; script-src *", "http") is None
    True
    """
    websocket_scheme = _WEBSOCKET_SCHEMES.get(scheme)
    if host is None or websocket_scheme is None:
        return None
    host = host.lower()
    match = _PLAIN_HOST.fullmatch(host)
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    return f"{websocket_scheme}://{host}"


def security_headers(
    request: Request, policy: Mapping[str, str] = DASHBOARD_POLICY
) -> dict[str, str]:
    """The headers of every page and asset: ``policy`` with this server's WebSocket address
    added to ``connect-src``, and the rest of the browser's protections."""
    directives = dict(policy)
    source = websocket_source(request.headers.get("host"), request.url.scheme)
    if source is not None:
        directives["connect-src"] = f"{directives['connect-src']} {source}"
    header = "; ".join(f"{name} {value}" for name, value in directives.items())
    return {"Content-Security-Policy": header, **OTHER_SECURITY_HEADERS}


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
        assets[path.name] = asset_of(path.read_bytes(), content_type)
    return assets


def asset_of(body: bytes, content_type: str) -> Asset:
    """A file's bytes as an asset, its ETag the hash of those bytes."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body=body, content_type=content_type, etag=etag)


ASSETS: Final = load_assets()
INDEX: Final = "index.html"

router = APIRouter(include_in_schema=False)


def serve_asset(request: Request, name: str) -> Response:
    """The dashboard's asset ``name``, or ``304`` when the browser already holds it."""
    return asset_response(request, ASSETS, name, DASHBOARD_POLICY)


def asset_response(
    request: Request, assets: Mapping[str, Asset], name: str, policy: Mapping[str, str]
) -> Response:
    """``assets[name]`` under ``policy``, or ``304`` when the browser already holds this
    version of it; ``NOT_FOUND`` for a name that is not there."""
    asset = assets.get(name)
    if asset is None:
        raise NotFoundError.of("asset", name)
    headers = {**security_headers(request, policy), "ETag": asset.etag}
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
