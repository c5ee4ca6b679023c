"""The API documentation: Swagger UI at ``/docs``, from files installed with the package.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN and starts it with an inline
script: without internet it is blank, and no strict Content-Security-Policy can allow it.
Here the page, its starter script and Swagger UI's files (from the ``fastapi-offline``
distribution, which ships them) are served by this server under the dashboard's discipline:
scripts and styles from this server only, nothing inline, no frames. ReDoc is not served.

Swagger UI is 1.5 MB: it is read when ``/docs`` is first asked for, not at import.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from .dashboard import CONTENT_TYPES, STATIC_DIRECTORY, Asset, asset_of, asset_response, load_assets

DOCS_DIRECTORY: Final = STATIC_DIRECTORY / "docs"
INDEX: Final = "index.html"
# The distribution that ships Swagger UI's files, and the ones the page uses.
SWAGGER_UI_PACKAGE: Final = "fastapi_offline"
SWAGGER_UI_FILES: Final = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")

DOCS_POLICY: Final = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # Swagger UI's style sheet draws its icons as data: images.
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

router = APIRouter(include_in_schema=False)


@functools.cache
def docs_assets() -> dict[str, Asset]:
    """The page and its starter (``static/docs``) and Swagger UI's files, by name."""
    assets = load_assets(DOCS_DIRECTORY)
    package = resources.files(SWAGGER_UI_PACKAGE) / "static"
    for name in SWAGGER_UI_FILES:
        suffix = name[name.rindex(".") :]
        assets[name] = asset_of((package / name).read_bytes(), CONTENT_TYPES[suffix])
    return assets


@router.api_route("/docs", methods=["GET", "HEAD"])
async def docs_page(request: Request) -> Response:
    """Swagger UI on ``/openapi.json``."""
    return asset_response(request, docs_assets(), INDEX, DOCS_POLICY)


@router.api_route("/docs/{name}", methods=["GET", "HEAD"])
async def docs_asset(request: Request, name: str) -> Response:
    """A file of the documentation page."""
    return asset_response(request, docs_assets(), name, DOCS_POLICY)
