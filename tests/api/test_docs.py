"""``/docs``: Swagger UI served from the installed package, under the dashboard's discipline."""

from __future__ import annotations

import re

import httpx


def policy_of(response: httpx.Response) -> dict[str, list[str]]:
    return {
        part.split()[0]: part.split()[1:]
        for part in response.headers["content-security-policy"].split("; ")
    }


def test_the_page_loads_only_scripts_and_styles_of_this_server(http: httpx.Client) -> None:
    response = http.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "http://" not in page and "https://" not in page
    # No inline script: every <script> names a file, and the policy allows this server's only.
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.DOTALL)
    assert scripts and all('src="/docs/' in attributes and not body.strip()
                           for attributes, body in scripts)  # fmt: skip
    assert "style=" not in page and "<style" not in page
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_file_the_page_names_is_served_with_its_type(http: httpx.Client) -> None:
    page = http.get("/docs").text
    names = re.findall(r'(?:src|href)="(/docs/[^"]+)"', page)
    assert {"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/start.js"} <= set(names)
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".png": "image/png"}  # fmt: skip
    for name in names:
        response = http.get(name)
        assert response.status_code == 200, name
        assert response.headers["content-type"] == types[name[name.rindex(".") :]], name
        assert "content-security-policy" in response.headers
        again = http.get(name, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    start = http.get("/docs/start.js").text
    assert "/openapi.json" in start and "http" not in start


def test_unknown_files_and_redoc_are_not_found(http: httpx.Client) -> None:
    for path in ("/docs/missing.js", "/docs/..%2Fapp.py", "/docs/oauth2-redirect", "/redoc"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
