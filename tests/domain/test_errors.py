"""One error tree, one code each, one JSON body."""

from __future__ import annotations

import json

import pytest

from session_runtime import (
    FailedPreconditionError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SessionRuntimeError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)
from session_runtime.domain.errors import CODES_BY_STATUS, ERRORS_BY_CODE

CONTRACT = [
    (ValidationError, "VALIDATION_ERROR", 422),
    (UnauthenticatedError, "UNAUTHENTICATED", 401),
    (PermissionDeniedError, "PERMISSION_DENIED", 403),
    (NotFoundError, "NOT_FOUND", 404),
    (FailedPreconditionError, "FAILED_PRECONDITION", 409),
    (ResourceExhaustedError, "RESOURCE_EXHAUSTED", 413),
    (UnavailableError, "UNAVAILABLE", 503),
    (MethodNotAllowedError, "METHOD_NOT_ALLOWED", 405),
]


@pytest.mark.parametrize(("error_class", "code", "status"), CONTRACT)
def test_every_error_has_its_code_and_status(
    error_class: type[SessionRuntimeError], code: str, status: int
) -> None:
    error = error_class("it went wrong", details={"why": "test"})
    assert isinstance(error, SessionRuntimeError)
    assert error.code == code
    assert error.http_status == status
    assert error.message == "it went wrong"
    assert str(error) == "it went wrong"


@pytest.mark.parametrize(("error_class", "code", "status"), CONTRACT)
def test_the_json_body_is_canonical(
    error_class: type[SessionRuntimeError], code: str, status: int
) -> None:
    body = error_class("nope", details=[{"path": "a", "message": "b"}]).to_dict()
    assert body == {
        "error": {"code": code, "message": "nope", "details": [{"path": "a", "message": "b"}]}
    }
    assert json.loads(json.dumps(body)) == body


def test_details_default_to_none() -> None:
    assert UnauthenticatedError("no token").to_dict()["error"]["details"] is None


def test_errors_by_code_covers_the_whole_tree() -> None:
    assert ERRORS_BY_CODE == {code: error_class for error_class, code, _ in CONTRACT}


def test_validation_error_at_one_path() -> None:
    error = ValidationError.at("inputs.a[0]", "number must be finite")
    assert error.details == [{"path": "inputs.a[0]", "message": "number must be finite"}]
    assert str(error) == "inputs.a[0]: number must be finite"


def test_not_found_names_the_resource() -> None:
    error = NotFoundError.of("event", "e1")
    assert error.details == {"resource": "event", "id": "e1"}
    assert "event" in error.message
    assert "e1" in error.message


def test_resource_exhausted_answers_429_for_rates() -> None:
    error = ResourceExhaustedError("slow down", http_status=429, retry_after=1.5)
    assert error.http_status == 429
    assert error.retry_after == 1.5
    assert ResourceExhaustedError("too big").http_status == 413
    assert ResourceExhaustedError("too big").retry_after is None


def test_repr_shows_message_and_details() -> None:
    assert repr(NotFoundError("gone", details={"resource": "session"})) == (
        "NotFoundError('gone', details={'resource': 'session'})"
    )


def test_a_status_without_an_error_body_stands_for_the_code_the_contract_gives_it() -> None:
    assert CODES_BY_STATUS == {
        400: "VALIDATION_ERROR",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        409: "FAILED_PRECONDITION",
        413: "RESOURCE_EXHAUSTED",
        422: "VALIDATION_ERROR",
        429: "RESOURCE_EXHAUSTED",
        503: "UNAVAILABLE",
    }
