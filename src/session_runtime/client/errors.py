"""Turning HTTP answers and httpx failures into the error tree the server raises.

The client raises the same classes as the server (``session_runtime.domain.errors``)::

    {"error": {"code": "NOT_FOUND", ...}}   ->  NotFoundError(message, details=...)
    502 / 503 / 504 without that body       ->  UnavailableError
    httpx.ConnectError, ReadTimeout, ...    ->  UnavailableError (raised ``from`` the httpx error)

so that ``except NotFoundError`` reads the same in a script, in the service and in a test.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from ..domain.errors import (
    ERRORS_BY_CODE,
    ResourceExhaustedError,
    SessionRuntimeError,
    UnavailableError,
)

# For answers that do not carry our error body (a proxy, a crashed worker, a foreign server).
_CODES_BY_STATUS: dict[int, str] = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    413: "RESOURCE_EXHAUSTED",
    422: "VALIDATION_ERROR",
    429: "RESOURCE_EXHAUSTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "UNAVAILABLE",
}

# httpx errors that mean "the server could not be reached or answered badly, try again later".
# Others (an invalid URL, an unsupported scheme) are mistakes of the caller and stay as they are.
_UNAVAILABLE_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


def error_from_response(response: httpx.Response) -> SessionRuntimeError:
    """The error an unsuccessful response stands for (call only when it is not 2xx).

    The body must have been read (``response.read()`` for a streamed response).

    >>> error_from_response(httpx.Response(404, json={"error": {
    ...     "code": "NOT_FOUND", "message": "session 's1' not found", "details": None}}))
    NotFoundError("session 's1' not found", details=None)
    """
    status = response.status_code
    body = _error_body(response)
    if body is not None:
        code, message, details = body
        cls = ERRORS_BY_CODE.get(code)
        if code == SessionRuntimeError.code:  # the server's own bug (500): the base class
            cls = SessionRuntimeError
        if cls is None:
            # A code this client does not know (a newer server): keep it readable.
            return SessionRuntimeError(f"{code}: {message}", details=details)
    else:
        cls = ERRORS_BY_CODE.get(_CODES_BY_STATUS.get(status, ""), SessionRuntimeError)
        reason = response.reason_phrase or "error"
        message = f"the server answered {status} {reason}"
        details = {"status": status}
    if cls is ResourceExhaustedError:
        return ResourceExhaustedError(
            message,
            details=details,
            http_status=status,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )
    return cls(message, details=details)


def _error_body(response: httpx.Response) -> tuple[str, str, Any] | None:
    """``(code, message, details)`` of our canonical error body, or ``None``."""
    if not response.content:
        return None
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not isinstance(message, str):
        return None
    return code, message, error.get("details")


def retry_after_seconds(header: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or ``None``.

    >>> retry_after_seconds("3")
    3.0
    """
    if header is None:
        return None
    text = header.strip()
    if text.isascii() and text.isdigit():  # "²" is a digit to isdigit(), not to float()
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


@contextmanager
def map_transport_errors() -> Iterator[None]:
    """Translate httpx's network failures into ``UnavailableError`` (``from`` the original).

    >>> with map_transport_errors():                                  # doctest: +SKIP
    ...     http.get("http://127.0.0.1:9/")   # nothing listens there
    Traceback (most recent call last):
    session_runtime.domain.errors.UnavailableError: cannot reach the server: ...
    """
    try:
        yield
    except _UNAVAILABLE_ERRORS as exc:
        raise unavailable_error(exc) from exc


def unavailable_error(exc: httpx.HTTPError) -> UnavailableError:
    """An ``UnavailableError`` describing a network failure (never any header, so no token)."""
    if isinstance(exc, httpx.TimeoutException):
        what = "the server did not answer in time"
    elif isinstance(exc, httpx.RemoteProtocolError):
        what = "the connection to the server broke"
    else:
        what = "cannot reach the server"
    details: dict[str, Any] = {"cause": type(exc).__name__}
    try:
        request = exc.request
    except RuntimeError:  # httpx raises this when the error has no request attached
        pass
    else:
        details["method"] = request.method
        details["url"] = str(request.url.copy_with(query=None))
    return UnavailableError(f"{what}: {exc or type(exc).__name__}", details=details)
