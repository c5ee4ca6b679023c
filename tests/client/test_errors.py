"""Answers and network failures become the server's error classes.

The codes a running server can produce are covered end to end in ``test_sync_client.py`` and
``test_async_client.py``; here are the answers it cannot be made to give on purpose (a rate limit
with ``Retry-After``, a proxy's 502, a foreign body), as real ``httpx.Response`` values.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest

from session_runtime.client import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SessionRuntimeError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)
from session_runtime.client.errors import (
    error_from_response,
    map_transport_errors,
    retry_after_seconds,
)
from session_runtime.domain.errors import ERRORS_BY_CODE


def body(code: str, message: str = "it failed", details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_every_code_becomes_its_class(code: str) -> None:
    cls = ERRORS_BY_CODE[code]
    error = error_from_response(
        httpx.Response(cls.http_status, json=body(code, "why", {"path": "x"}))
    )
    assert type(error) is cls
    assert (error.code, error.message, error.details) == (code, "why", {"path": "x"})


def test_a_rate_limit_keeps_its_status_and_retry_after() -> None:
    response = httpx.Response(
        429, json=body("RESOURCE_EXHAUSTED", "slow down"), headers={"Retry-After": "3"}
    )
    error = error_from_response(response)
    assert isinstance(error, ResourceExhaustedError)
    assert (error.http_status, error.retry_after, error.message) == (429, 3.0, "slow down")


def test_retry_after_as_a_date() -> None:
    moment = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds(moment)
    assert seconds is not None and 25 <= seconds <= 31
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize("header", ["²", "١٢", "3.5", "-1", ""])
def test_an_unreadable_retry_after_is_none(header: str) -> None:
    assert retry_after_seconds(header) is None


def test_a_server_bug_is_the_base_class() -> None:
    error = error_from_response(httpx.Response(500, json=body("INTERNAL", "oops")))
    assert type(error) is SessionRuntimeError
    assert error.message == "oops"


def test_an_unknown_code_keeps_its_name() -> None:
    error = error_from_response(httpx.Response(418, json=body("TEAPOT", "short and stout")))
    assert type(error) is SessionRuntimeError
    assert error.message == "TEAPOT: short and stout"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (502, UnavailableError),
        (503, UnavailableError),
        (504, UnavailableError),
        (500, SessionRuntimeError),
        (401, UnauthenticatedError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, FailedPreconditionError),
        (413, ResourceExhaustedError),
        (422, ValidationError),
        (418, SessionRuntimeError),
    ],
)
def test_answers_without_our_body_map_by_status(status: int, cls: type[Exception]) -> None:
    for content in (b"", b"<html>Bad Gateway</html>", b'{"detail": "nope"}', b"[1]"):
        error = error_from_response(httpx.Response(status, content=content))
        assert type(error) is cls
        assert isinstance(error, SessionRuntimeError)
        assert error.details == {"status": status}
        assert str(status) in error.message


def test_network_failures_become_unavailable_from_the_original() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:1/v1/projects?token=secret")
    failures: list[httpx.HTTPError] = [
        httpx.ConnectError("refused", request=request),
        httpx.ReadTimeout("slow", request=request),
        httpx.RemoteProtocolError("peer closed connection", request=request),
        httpx.ReadError("reset", request=request),
    ]
    for failure in failures:
        with pytest.raises(UnavailableError) as caught, map_transport_errors():
            raise failure
        assert caught.value.__cause__ is failure
        assert caught.value.details == {
            "cause": type(failure).__name__,
            "method": "GET",
            "url": "http://127.0.0.1:1/v1/projects",
        }


def test_mistakes_of_the_caller_stay_as_they_are() -> None:
    with pytest.raises(httpx.UnsupportedProtocol), map_transport_errors():
        raise httpx.UnsupportedProtocol("ftp is not http")
    with pytest.raises(KeyError), map_transport_errors():
        raise KeyError("not ours")
