"""The routes over many sessions: the funnel figures and the streaming export."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from ..domain.export import ExportFormat, csv_header, export_line
from ..domain.models import Mode, SessionStatus
from ..domain.stats import SessionStats
from .errors import error_responses
from .http import EventFilter, ExperienceFilter, authenticate, service_of
from .responses import model_response

router = APIRouter(prefix="/v1")

_READ = ("UNAUTHENTICATED", "PERMISSION_DENIED", "UNAVAILABLE", "NOT_FOUND", "VALIDATION_ERROR")
_EXPORT_CHUNK_BYTES = 64 * 1024


@router.get(
    "/projects/{project_id}/stats",
    response_model=SessionStats,
    responses=error_responses(*_READ),
    summary="Funnel figures per experience",
)
async def session_stats(
    request: Request,
    project_id: str,
    event_id: EventFilter = None,
    experience_id: ExperienceFilter = None,
    mode: Mode = Mode.GUEST,
    created_from: Annotated[
        str | None, Query(alias="from", description="ISO 8601; sessions created at or after.")
    ] = None,
    created_to: Annotated[
        str | None, Query(alias="to", description="ISO 8601; sessions created before.")
    ] = None,
) -> Response:
    """Per experience: how many sessions reached each step, how many completed, abandoned and
    failed, and the median seconds to complete. Members only; ``mode`` defaults to ``guest``
    (previews are not analytics)."""
    principal = await authenticate(request)
    # A parameter left out arrives as None, which the service's input reads as absent.
    query = {
        "eventId": event_id,
        "experienceId": experience_id,
        "mode": mode,
        "from": created_from,
        "to": created_to,
    }
    return model_response(await service_of(request).session_stats(principal, project_id, query))


@router.get(
    "/projects/{project_id}/sessions:export",
    responses={
        200: {
            "description": "Every matching session, newest first: one JSON document per line, "
            "or CSV with a header row.",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
        **error_responses(*_READ),
    },
    response_class=StreamingResponse,
    summary="Export sessions as JSON lines or CSV",
)
async def export_sessions(
    request: Request,
    project_id: str,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSONL,
    event_id: EventFilter = None,
    experience_id: ExperienceFilter = None,
    status: SessionStatus | None = None,
    mode: Mode | None = None,
) -> StreamingResponse:
    """Streams every session that matches the filters (as the listing's), a page at a time:
    memory stays flat however many there are. A guest gets its own sessions only. A refusal
    comes before the first byte; a failure later ends the stream early (the body is then
    incomplete, which a client sees as a broken transfer)."""
    principal = await authenticate(request)
    service = service_of(request)
    filters = {
        "eventId": event_id,
        "experienceId": experience_id,
        "status": status,
        "mode": mode,
    }
    first_page, given = await service.first_export_page(principal, project_id, filters)

    async def body() -> AsyncIterator[bytes]:
        chunk: list[str] = [csv_header()] if export_format is ExportFormat.CSV else []
        size = 0
        async for session in service.export_sessions(principal, project_id, first_page, given):
            line = export_line(export_format, session)
            chunk.append(line)
            size += len(line)
            if size >= _EXPORT_CHUNK_BYTES:
                yield "".join(chunk).encode()
                chunk, size = [], 0
        if chunk:
            yield "".join(chunk).encode()

    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", project_id)
    filename = f"sessions-{safe_id}.{export_format.value}"
    return StreamingResponse(
        body(),
        media_type=export_format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
