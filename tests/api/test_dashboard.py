"""The dashboard's files: served from the package, with their types, ETags and a strict CSP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from session_runtime.api import dashboard

from ..support.server import RunningServer

STATIC = Path(dashboard.__file__).parent / "static"


def policy_of(response: httpx.Response) -> dict[str, list[str]]:
    return {
        part.split()[0]: part.split()[1:]
        for part in response.headers["content-security-policy"].split("; ")
    }


def test_the_page_is_served_at_the_root_with_a_strict_policy(
    http: httpx.Client, server: RunningServer
) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (STATIC / "index.html").read_bytes()
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    # WebSockets to this server only: the address the browser asked for, in its scheme.
    assert policy["connect-src"] == ["'self'", f"ws://127.0.0.1:{server.port}"]
    assert {"http:", "https:"} <= set(policy["img-src"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"


def test_a_page_served_over_https_allows_secure_websockets_to_its_host_only(
    http: httpx.Client,
) -> None:
    # As a TLS-terminating proxy on this machine tells the server (uvicorn trusts 127.0.0.1).
    headers = {"Host": "booth.example.com", "X-Forwarded-Proto": "https"}
    policy = policy_of(http.get("/", headers=headers))
    assert policy["connect-src"] == ["'self'", "wss://booth.example.com"]


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.com; connect-src *",
        "evil.example.com 'unsafe-inline'",
        "ws://evil.example.com",
        "host\u00e9.example.com",
        "[::1",
        "[::1]:8000",
        "example.com:99999",
    ],
)
def test_a_host_that_is_not_a_plain_address_allows_no_websocket_beyond_self(
    http: httpx.Client, host: str
) -> None:
    response = http.get("/", headers={"Host": host.encode("utf-8")})
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["connect-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]


def test_the_policy_names_the_host_as_the_browser_sent_it(http: httpx.Client) -> None:
    for host in ("localhost:8000", "booth.example.com", "Booth.Example.com:8443", "10.0.0.7"):
        policy = policy_of(http.get("/", headers={"Host": host}))
        assert policy["connect-src"] == ["'self'", f"ws://{host.lower()}"], host


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
