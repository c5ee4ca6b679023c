"""The dashboard's files: served from the package, with their types, ETags and a strict CSP."""

from __future__ import annotations

from pathlib import Path

import httpx

from session_runtime.api import dashboard

STATIC = Path(dashboard.__file__).parent / "static"


def test_the_page_is_served_at_the_root_with_a_strict_policy(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (STATIC / "index.html").read_bytes()
    policy = {
        part.split()[0]: part.split()[1:]
        for part in response.headers["content-security-policy"].split("; ")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "ws:", "wss:"]
    assert {"http:", "https:"} <= set(policy["img-src"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"


def test_every_asset_has_its_type_and_revalidates_by_etag(http: httpx.Client) -> None:
    expected_types = {
        "app.js": "text/javascript; charset=utf-8",
        "style.css": "text/css; charset=utf-8",
        "favicon.svg": "image/svg+xml",
    }
    for name, content_type in expected_types.items():
        response = http.get(f"/dashboard/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == content_type
        assert response.content == (STATIC / name).read_bytes()
        again = http.get(f"/dashboard/{name}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    head = http.head("/dashboard/app.js")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == (STATIC / "app.js").stat().st_size


def test_the_page_names_only_assets_the_server_has(http: httpx.Client) -> None:
    page = (STATIC / "index.html").read_text()
    for name in ("app.js", "style.css", "favicon.svg"):
        assert f"/dashboard/{name}" in page
    scripts = [path.name for path in STATIC.glob("*.js")]
    for script in scripts:
        assert http.get(f"/dashboard/{script}").status_code == 200
        assert "innerHTML" not in (STATIC / script).read_text(), script
    assert "http://" not in page and "https://" not in page


def test_unknown_assets_are_not_found_with_the_one_error_body(http: httpx.Client) -> None:
    for path in ("/dashboard/missing.js", "/dashboard/..%2Fdashboard.py", "/dashboard/"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
