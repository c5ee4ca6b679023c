"""The server's access log: one line per request, for all of them, only errors, or none."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import httpx
import pytest

from session_runtime.settings import Settings

from ..support.server import running_server, seed

Mode = Literal["all", "errors", "off"]


def access_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: Mode) -> list[str]:
    """The access lines of one healthy request, one refused one and one of a fast route."""
    settings = Settings(database_path=tmp_path / "s.db", access_log=mode)
    with running_server(settings) as server:
        seeded = server.call(seed(server.service))
        with caplog.at_level(logging.INFO, logger="session_runtime.access"):
            with httpx.Client(base_url=server.base_url, timeout=10) as http:
                assert http.get("/healthz?probe=1").status_code == 200
                url = f"/v1/projects/{seeded.project_id}/sessions/nope"
                assert http.get(url, headers=seeded.headers(seeded.owner)).status_code == 404
                assert http.get(url).status_code == 401
    return [r.getMessage() for r in caplog.records if r.name == "session_runtime.access"]


def test_all_logs_every_request_with_status_and_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = access_lines(tmp_path, caplog, "all")
    assert len(lines) == 3
    assert '"GET /healthz?probe=1" 200 ' in lines[0]
    assert lines[0].startswith("127.0.0.1:")
    assert lines[0].endswith(" ms")
    assert '/sessions/nope" 404 ' in lines[1]
    assert '/sessions/nope" 401 ' in lines[2]


def test_errors_logs_only_refusals_and_failures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = access_lines(tmp_path, caplog, "errors")
    assert [line.split('" ')[1].split()[0] for line in lines] == ["404", "401"]


def test_off_logs_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert access_lines(tmp_path, caplog, "off") == []


def test_errors_is_the_default() -> None:
    assert Settings().access_log == "errors"


def test_a_token_never_reaches_the_access_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_path=tmp_path / "s.db", access_log="all")
    with running_server(settings) as server:
        seeded = server.call(seed(server.service))
        with caplog.at_level(logging.INFO, logger="session_runtime.access"):
            with httpx.Client(base_url=server.base_url, timeout=10) as http:
                http.get(
                    f"/v1/projects/{seeded.project_id}/sessions",
                    headers=seeded.headers(seeded.owner),
                )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/sessions" in text
    assert "srt_" not in text
