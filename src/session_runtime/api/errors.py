"""One error body for every route: ``{"error": {"code", "message", "details"}}``.

Our own errors carry their status; FastAPI's request validation becomes ``VALIDATION_ERROR``;
an unknown route is ``NOT_FOUND``, a method a path does not have ``METHOD_NOT_ALLOWED``
(with ``Allow``); anything else is a bug, answered 500 with no detail (and reported).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..domain.errors import (
    CODES_BY_STATUS,
    ERRORS_BY_CODE,
    MethodNotAllowedError,
    ResourceExhaustedError,
    SessionRuntimeError,
    ValidationError,
)
from .responses import JSONBytesResponse

logger = logging.getLogger(__name__)

# Starlette's own HTTP errors; an unsupported media type is a validation error of the body.
_CODES_BY_STATUS = {**CODES_BY_STATUS, 415: ValidationError.code}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(error: SessionRuntimeError) -> JSONBytesResponse:
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowedError):
        headers["Allow"] = ", ".join(error.details["allowed"])
    if isinstance(error, ResourceExhaustedError) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return JSONBytesResponse(error.to_dict(), status_code=error.http_status, headers=headers)


async def _on_session_runtime_error(request: Request, exc: Exception) -> JSONBytesResponse:
    assert isinstance(exc, SessionRuntimeError)
    return error_response(exc)


async def _on_request_validation(request: Request, exc: Exception) -> JSONBytesResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"path": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    return JSONBytesResponse(
        error_body("VALIDATION_ERROR", "the request does not fit the API", details),
        status_code=422,
    )


async def _on_http_exception(request: Request, exc: Exception) -> JSONBytesResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return error_response(_method_not_allowed(request))
    code = _CODES_BY_STATUS.get(exc.status_code, "VALIDATION_ERROR")
    return JSONBytesResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


def _method_not_allowed(request: Request) -> MethodNotAllowedError:
    """Starlette's 405 names the methods of the first route that matched the path; the answer
    lists those of every route on it (``GET`` and ``POST`` of ``.../sessions``), HEAD with GET.
    Each method is tried against the routes as routing itself would match it."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    if "GET" in allowed:
        allowed = sorted({*allowed, "HEAD"})
    return MethodNotAllowedError.of(request.method, allowed)


_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


async def _on_unexpected(request: Request, exc: Exception) -> JSONBytesResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONBytesResponse(
        error_body("INTERNAL", "an unexpected error occurred; it has been reported"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SessionRuntimeError, _on_session_runtime_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error codes, all with the one error body."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        cls = ERRORS_BY_CODE[code]
        status = cls.http_status
        entry = responses.setdefault(status, {"model": ErrorBody, "description": ""})
        entry["description"] = " / ".join(filter(None, (entry["description"], code)))
        if code in ("RESOURCE_EXHAUSTED", "UNAUTHENTICATED"):
            # Every request that carries a token counts against its rate (see api/limits.py).
            responses[429] = {"model": ErrorBody, "description": "RESOURCE_EXHAUSTED (rate)"}
    return responses
