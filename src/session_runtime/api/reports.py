"""The routes over many sessions: the funnel figures and the streaming export."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from ..domain.export import ExportFormat, csv_header, export_line
from ..domain.stats import SessionStats
from .errors import error_responses
from .http import ExportQuery, ProjectId, StatsQuery, authenticate, service_of
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
    request: Request, project_id: ProjectId, query: Annotated[StatsQuery, Query()]
) -> Response:
    """Per experience: how many sessions reached each step, how many completed, abandoned and
    failed, and the median seconds to complete. Members only; ``mode`` defaults to ``guest``
    (previews are not analytics)."""
    principal = await authenticate(request)
    stats = await service_of(request).session_stats(principal, project_id, query.input())
    return model_response(stats)


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
    request: Request, project_id: ProjectId, query: Annotated[ExportQuery, Query()]
) -> StreamingResponse:
    """Streams every session that matches the filters (as the listing's), a page at a time:
    memory stays flat however many there are. A guest gets its own sessions only. A refusal
    comes before the first byte; a failure later ends the stream early (the body is then
    incomplete, which a client sees as a broken transfer)."""
    principal = await authenticate(request)
    service = service_of(request)
    first_page, given = await service.first_export_page(principal, project_id, query.input())
    export_format = query.export_format

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
