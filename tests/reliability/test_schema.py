"""The OpenAPI document holds: schemathesis sends every documented operation generated requests,
valid and invalid, with a member token and with none, to a real server on 127.0.0.1.

Every answer must be documented (status code, content type, headers, body schema) and none may
be a 5xx. Each operation runs twice: once with generated path parameters (ids that exist nowhere)
and once pinned to the seeded project and a session of its own, so that the success paths are
checked against the document too. Requests without a token must be refused on every ``/v1``
route but the public ones (``security: []``: joining by a code, a join link's QR code, a
shared result), and no answer may carry a token or an id of the other project.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from session_runtime.settings import Settings

from ..support.server import RunningServer, Seed, running_server, seed

EXAMPLES_PER_OPERATION = 10
"""Generated requests per operation, auth mode, generation mode and pinning: 17 operations
give ~350 requests per auth mode."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
_PATH_PARAMETER = re.compile(r"{(\w+)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("schema")
    settings_ = Settings(database_path=folder / "sessions.db", heartbeat_seconds=0.2)
    with running_server(settings_) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seed:
    return server.call(seed(server.service))


@dataclass
class Run:
    """What one auth mode's pass saw: requests sent, statuses, and every failed check."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    nothing_to_negate: list[str] = field(default_factory=list)

    def record(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


def _new_session(http: httpx.Client, seeded: Seed, *, final: bool = False) -> str:
    url = f"/v1/projects/{seeded.project_id}/sessions"
    response = http.post(url, json=seeded.session_body(), headers=seeded.headers(seeded.owner))
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    if final:
        done = http.post(f"{url}/{session_id}/complete", headers=seeded.headers(seeded.owner))
        assert done.status_code == 200, done.text
    return session_id


def _pinned(operation: Any, http: httpx.Client, seeded: Seed) -> dict[str, str]:
    """Path parameters naming the seeded project and a session of this operation's own (a
    completed one for the event stream, which would otherwise stay open)."""
    names = _PATH_PARAMETER.findall(operation.path)
    values: dict[str, str] = {}
    if "project_id" in names:
        values["project_id"] = seeded.project_id
    if "session_id" in names:
        values["session_id"] = _new_session(http, seeded, final=operation.path.endswith("/events"))
    return values


def _negatable(operation: Any, pinned: dict[str, str] | None) -> bool:
    """Whether anything is left to make invalid: a parameter not pinned, or a body."""
    names = {parameter.name for parameter in operation.iter_parameters()} - set(pinned or ())
    return bool(names) or any(True for _ in operation.get_request_payload_content_types())


def _leaks(body: bytes, seeded: Seed) -> list[str]:
    secrets = (seeded.owner, seeded.viewer, seeded.guest, seeded.stranger, seeded.revoked)
    foreign = (seeded.other_project_id, seeded.other_event_in_other_project)
    return [value for value in (*secrets, *foreign) if value.encode() in body]


def _run_operation(
    operation: Any,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, str] | None,
    *,
    base_url: str,
    headers: dict[str, str],
    seeded: Seed,
    run: Run,
    extra_check: Callable[[Any, Any], str | None],
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    checks = [*CHECKS, negative_data_rejection] if mode is MODES[1] else CHECKS

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        run.record(response.status_code)
        label = f"{operation.label} [{mode.value}, {'pinned' if path_parameters else 'free'}]"
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Failure, FailureGroup) as failure:  # one failed check, or several
            run.failures.append(f"{label}: {str(failure)[:1500]}")
        problem = extra_check(operation, response)
        if problem is not None:
            run.failures.append(f"{label}: {problem}")
        leaked = _leaks(response.content, seeded)
        if leaked:
            run.failures.append(f"{label}: the answer carries {leaked}")

    try:
        send()
    except Unsatisfiable:
        # Pinned path parameters and a fixed token can leave nothing to negate.
        assert mode is MODES[1], f"{operation.label}: no valid request could be generated"
        run.nothing_to_negate.append(operation.label)


def _schema_pass(
    server: RunningServer,
    seeded: Seed,
    token: str | None,
    extra_check: Callable[[Any, Any], str | None],
) -> tuple[Run, list[str], float]:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", timeout=10)
    # The token is this pass's to choose (sent with every request), not generated or negated;
    # unknown query parameters are ignored, as HTTP APIs do, so adding one negates nothing.
    schema.config.generation.with_security_parameters = False
    schema.config.generation.allow_extra_parameters = False
    operations = [result.ok() for result in schema.get_all_operations()]
    headers = seeded.headers(token) if token else {}
    run = Run()
    started = time.monotonic()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for operation in operations:
            for mode in MODES:
                for pin in (False, True):
                    path_parameters = _pinned(operation, http, seeded) if pin else None
                    if pin and not path_parameters:
                        continue  # no path parameters: the free pass covered it
                    if mode is MODES[1] and not _negatable(operation, path_parameters):
                        run.nothing_to_negate.append(operation.label)
                        continue
                    _run_operation(
                        operation,
                        mode,
                        path_parameters,
                        base_url=server.base_url,
                        headers=headers,
                        seeded=seeded,
                        run=run,
                        extra_check=extra_check,
                    )
    labels = [operation.label for operation in operations]
    return run, labels, time.monotonic() - started


def _report(run: Run, labels: list[str], seconds: float) -> None:
    print(
        f"{len(labels)} operations, {run.requests} requests in {seconds:.1f} s, "
        f"statuses {dict(sorted(run.statuses.items()))}; nothing to negate in "
        f"{sorted(set(run.nothing_to_negate))}"
    )


def test_every_operation_conforms_with_a_member_token(server: RunningServer, seeded: Seed) -> None:
    def no_extra(operation: Any, response: Any) -> str | None:
        return None

    run, labels, seconds = _schema_pass(server, seeded, seeded.owner, no_extra)
    _report(run, labels, seconds)
    assert len(labels) >= 15
    assert not run.failures, "\n\n".join(run.failures[:10])
    # The pinned passes reached the success paths, not only refusals.
    assert run.statuses.get(200, 0) > 0 and run.statuses.get(404, 0) > 0
    assert not any(status >= 500 for status in run.statuses)


def test_every_operation_conforms_without_a_token(server: RunningServer, seeded: Seed) -> None:
    def refused(operation: Any, response: Any) -> str | None:
        if operation.definition.raw.get("security") == []:
            return None  # public: whoever holds a join or share code (joining, QR, a share)
        # FastAPI checks query parameters before the handler runs: a malformed one is 422.
        if operation.path.startswith("/v1/") and response.status_code not in (401, 422):
            return f"answered {response.status_code} without a token"
        return None

    run, labels, seconds = _schema_pass(server, seeded, None, refused)
    _report(run, labels, seconds)
    assert not run.failures, "\n\n".join(run.failures[:10])
    assert run.statuses.get(401, 0) > 0
    assert not any(status >= 500 for status in run.statuses)
