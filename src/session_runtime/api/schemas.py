"""Request and response bodies as the HTTP API documents them (camelCase JSON).

Request bodies are read with orjson and validated once, by the service, into the operation's
input model; the models here give the OpenAPI document its schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute

from ..domain.guests import CreateJoinLinkInput, CreateShareLinkInput
from ..domain.ids import MAX_ID_LENGTH
from ..domain.models import (
    MAX_REASON_LENGTH,
    MIN_CLIENT_ID_LENGTH,
    ConfigSource,
    Event,
    Experience,
    MediaReference,
    Mode,
    Project,
    Session,
)

Reason = Annotated[StrictStr, Field(min_length=1, max_length=MAX_REASON_LENGTH)]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CreateSessionBody(_Body):
    """Start a session. ``projectId`` comes from the URL (the body may repeat it)."""

    event_id: StrictStr
    experience_id: StrictStr
    mode: Mode
    config_source: ConfigSource
    project_id: StrictStr | None = None
    session_id: (
        Annotated[
            StrictStr,
            Field(
                min_length=MIN_CLIENT_ID_LENGTH,
                max_length=MAX_ID_LENGTH,
                pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*$",
                description="An id of your choice (at least 128 random bits as URL-safe base64: "
                "22 or more characters of A-Z a-z 0-9 - _, not starting with '-'). Creating it "
                "again with the same body by the same caller answers 200 with the session; "
                "anything else with a taken id is 409.",
            ),
        ]
        | None
    ) = None


class UpdateSessionProgressBody(_Body):
    """Progress: ``inputs`` and ``outputs`` deep-merge into what is stored;
    ``currentStepIndex`` replaces."""

    current_step_index: Annotated[StrictInt, Field(ge=0)] | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, MediaReference] | None = None


class AbandonSessionBody(_Body):
    """Why the session was abandoned (optional)."""

    reason: Reason | None = None


class FailSessionBody(_Body):
    """Why the session failed (an AI step failed, a camera was lost...)."""

    reason: Reason


class CreateSessionResponse(_Body):
    session_id: str
    session: Session


class SessionListResponse(_Body):
    items: list[Session]
    next_cursor: str | None = None


class WhoAmI(_Body):
    kind: str
    project_id: str | None
    user: str | None = None
    role: str | None = None
    event_id: str | None = None


class ProjectList(_Body):
    items: list[Project]


class EventList(_Body):
    items: list[Event]


class ExperienceList(_Body):
    items: list[Experience]


REQUEST_BODIES: tuple[type[BaseModel], ...] = (
    CreateSessionBody,
    UpdateSessionProgressBody,
    AbandonSessionBody,
    FailSessionBody,
    CreateJoinLinkInput,
    CreateShareLinkInput,
)


def json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` as its JSON body."""
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def install_openapi(app: FastAPI, extra_routes: Sequence[BaseRoute] = ()) -> None:
    """Document ``extra_routes`` too (routes served outside FastAPI's routing), the request body
    schemas, and the bearer scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=[*app.routes, *extra_routes],
            )
            _, definitions = models_json_schema(
                [(model, "validation") for model in REQUEST_BODIES],
                by_alias=True,
                ref_template="#/components/schemas/{model}",
            )
            components = schema.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for name, definition in definitions.get("$defs", {}).items():
                schemas.setdefault(name, definition)
            components["securitySchemes"] = {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A member or guest token (srt_...).",
                }
            }
            for path, item in schema["paths"].items():
                for operation in item.values():
                    if path.startswith("/v1/"):
                        operation.setdefault("security", [{"bearerAuth": []}])
                    _document_error_body(operation)
            # Request validation errors are answered with the one error body, not FastAPI's.
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_FASTAPI_VALIDATION_ERROR = {"$ref": "#/components/schemas/HTTPValidationError"}


def _document_error_body(operation: dict[str, Any]) -> None:
    for response in operation.get("responses", {}).values():
        for media in response.get("content", {}).values():
            if media.get("schema") == _FASTAPI_VALIDATION_ERROR:
                media["schema"] = {"$ref": "#/components/schemas/ErrorBody"}
