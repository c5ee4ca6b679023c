"""The one error tree of session-runtime.

Every failure a caller can see is one of these classes, each carrying the contract's code and the
HTTP status the server answers with::

    SessionRuntimeError
    ├── ValidationError          VALIDATION_ERROR      422  (details: field paths)
    ├── UnauthenticatedError     UNAUTHENTICATED       401
    ├── PermissionDeniedError    PERMISSION_DENIED     403
    ├── NotFoundError            NOT_FOUND             404  (details: which resource)
    ├── FailedPreconditionError  FAILED_PRECONDITION   409  (status, version mismatch)
    ├── ResourceExhaustedError   RESOURCE_EXHAUSTED    413 / 429
    ├── UnavailableError         UNAVAILABLE           503  (storage down; retry later)
    └── MethodNotAllowedError    METHOD_NOT_ALLOWED    405  (details: the path's methods)

Lower-level errors (sqlite3, asyncpg, httpx) are translated into these at the rim with
``raise ... from exc``; the client raises the same classes the server does.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "FailedPreconditionError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "SessionRuntimeError",
    "UnauthenticatedError",
    "UnavailableError",
    "ValidationError",
]


class SessionRuntimeError(Exception):
    """Base of every error session-runtime raises on purpose.

    >>> err = NotFoundError("session not found", details={"resource": "session"})
    >>> err.code, err.http_status, err.to_dict()["error"]["details"]
    ('NOT_FOUND', 404, {'resource': 'session'})
    """

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 500

    def __init_subclass__(
        cls, *, code: str | None = None, http_status: int | None = None, **kwargs: Any
    ) -> None:
        # Each class of the tree states its contract code and status on its ``class`` line;
        # a subclass that states neither keeps its parent's.
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if http_status is not None:
            cls.http_status = http_status

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, details={self.details!r})"


class ValidationError(SessionRuntimeError, code="VALIDATION_ERROR", http_status=422):
    """The input does not fit the contract; ``details`` lists ``{"path", "message"}`` items."""

    @classmethod
    def at(cls, path: str, message: str) -> ValidationError:
        """One problem at one field path."""
        return cls(f"{path}: {message}", details=[{"path": path, "message": message}])


class UnauthenticatedError(SessionRuntimeError, code="UNAUTHENTICATED", http_status=401):
    """No token, or a token that is unknown, malformed or revoked."""


class PermissionDeniedError(SessionRuntimeError, code="PERMISSION_DENIED", http_status=403):
    """The caller is known but may not do this."""


class NotFoundError(SessionRuntimeError, code="NOT_FOUND", http_status=404):
    """A resource does not exist; ``details["resource"]`` names which one."""

    @classmethod
    def of(cls, resource: str, resource_id: str) -> NotFoundError:
        return cls(
            f"{resource} {resource_id!r} not found",
            details={"resource": resource, "id": resource_id},
        )


class FailedPreconditionError(SessionRuntimeError, code="FAILED_PRECONDITION", http_status=409):
    """The session is not in a state that allows this (final status, version mismatch)."""


class ResourceExhaustedError(SessionRuntimeError, code="RESOURCE_EXHAUSTED", http_status=413):
    """A size limit or a rate limit was reached (413 for sizes, 429 for rates)."""

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        http_status: int = 413,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.http_status = http_status  # type: ignore[misc]
        self.retry_after = retry_after


class UnavailableError(SessionRuntimeError, code="UNAVAILABLE", http_status=503):
    """Storage cannot be reached right now; nothing was written and the call may be retried."""


class MethodNotAllowedError(SessionRuntimeError, code="METHOD_NOT_ALLOWED", http_status=405):
    """The path exists but not with this HTTP method; ``details["allowed"]`` lists its methods
    (also sent as the ``Allow`` header)."""

    @classmethod
    def of(cls, method: str, allowed: list[str]) -> MethodNotAllowedError:
        return cls(
            f"{method} is not a method of this path; it has {', '.join(allowed)}",
            details={"method": method, "allowed": allowed},
        )


ERRORS_BY_CODE: dict[str, type[SessionRuntimeError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        UnauthenticatedError,
        PermissionDeniedError,
        NotFoundError,
        FailedPreconditionError,
        ResourceExhaustedError,
        UnavailableError,
        MethodNotAllowedError,
    )
}

CODES_BY_STATUS: dict[int, str] = {
    **{cls.http_status: code for code, cls in ERRORS_BY_CODE.items()},
    400: ValidationError.code,
    429: ResourceExhaustedError.code,
}
"""The code an HTTP status stands for when no error body says it: each class's own status,
and the other statuses the contract gives a code (400, 429). The server and the client each
add the few statuses that only they meet."""
