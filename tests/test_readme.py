"""The README's examples run as written, against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from session_runtime import SYSTEM
from session_runtime.settings import Settings

from .support.server import RunningServer, Seed, running_server, seed

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Seed]]:
    folder = tmp_path_factory.mktemp("readme")
    with running_server(Settings(database_path=folder / "readme.db")) as server:
        yield server, server.call(seed(server.service))


def environment(server: RunningServer, data: Seed) -> dict[str, str]:
    return {
        **os.environ,
        "SESSION_RUNTIME_URL": server.base_url,
        "SESSION_RUNTIME_TOKEN": data.owner,
        "BASE": server.base_url,
        "TOKEN": data.owner,
        "PROJECT": data.project_id,
        "EVENT": data.event_id,
        "EXPERIENCE": data.experience_id,
    }


def run_python(code: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_bash(script: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_curl_session(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (session,) = [block for block in blocks("bash") if "curl -sf -X POST" in block]
    printed = run_bash(session, environment(server, data), tmp_path)
    answers = [json.loads(line) for line in printed.replace("}{", "}\n{").splitlines()]
    final = answers[-1]
    assert final["status"] == "completed"
    assert final["version"] == 4
    assert final["completedAt"] == final["updatedAt"]
    assert final["inputs"] == {"profile": {"name": "Ada", "mood": "happy"}}


def test_the_sdk_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("python") if "(base_url, token) as client" in block]
    output = run_python(example, environment(server, data), tmp_path).splitlines()
    assert output[-2].startswith("3 completed {'answers': {'q1': 'yes'}}")
    assert output[-1] == "True False None"


def test_the_library_example(tmp_path: Path) -> None:
    (example,) = [block for block in blocks("python") if "SessionRuntime.sqlite(" in block]
    output = run_python(example, dict(os.environ), tmp_path)
    assert output.splitlines() == ["3 completed {'name': 'Ada'}"]
    assert (tmp_path / "var" / "example.db").exists()


def test_the_websocket_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("python") if "/v1/ws" in block]
    output = run_python(example, environment(server, data), tmp_path).splitlines()
    assert output == ["{'type': 'authenticated'}", "{'type': 'subscribed', 'id': 'all'}"]


def test_the_funnel_and_export_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("bash") if "/stats?" in block]
    stats = json.loads(run_bash(example, environment(server, data), tmp_path))
    assert stats["projectId"] == data.project_id and stats["mode"] == "guest"
    assert set(stats["totals"]) == {"total", "active", "completed", "abandoned", "error"}
    header = (tmp_path / "completed.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("id,projectId,eventId,experienceId,mode")


def test_a_newcomer_runs_the_examples_top_to_bottom_in_one_fresh_shell(
    served: tuple[RunningServer, Seed], tmp_path: Path
) -> None:
    """The variables block, then the SDK and WebSocket examples, in one shell that starts with
    none of them set: whatever the examples read, that block must export."""
    server, data = served
    (setup,) = [block for block in blocks("bash") if "PROJECT=" in block]
    values = {
        "BASE": server.base_url,
        "TOKEN": data.owner,
        "SESSION_RUNTIME_URL": server.base_url,
        "SESSION_RUNTIME_TOKEN": data.owner,
        "PROJECT": data.project_id,
        "EVENT": data.event_id,
        "EXPERIENCE": data.experience_id,
    }
    filled = re.sub(
        r"^((?:export )?)([A-Z_]+)=(\S+)",
        lambda m: f"{m[1]}{m[2]}={values[m[2]]}" if m[2] in values else m[0],
        setup,
        flags=re.M,
    )
    assert "..." not in filled
    (sdk,) = [block for block in blocks("python") if "(base_url, token) as client" in block]
    (websocket,) = [block for block in blocks("python") if "/v1/ws" in block]
    script = filled + "".join(
        f"\n{sys.executable} - <<'PYTHON'\n{example}PYTHON\n" for example in (sdk, websocket)
    )
    fresh = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SESSION_RUNTIME_")
        and name not in ("BASE", "TOKEN", "PROJECT", "EVENT", "EXPERIENCE")
    }

    output = run_bash(script, fresh, tmp_path).splitlines()

    assert "True False None" in output
    assert output[-1] == "{'type': 'subscribed', 'id': 'all'}"


def test_the_join_link_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("bash") if "/v1/join/$CODE" in block]
    printed = run_bash(example, environment(server, data), tmp_path)
    assert json.loads(printed) == {"items": []}  # a new guest has no sessions yet
    assert (tmp_path / "join-link.png").read_bytes().startswith(b"\x89PNG")


def test_the_guest_sdk_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("python") if "SessionRuntimeClient.join(" in block]
    link = server.call(server.service.guests.create_join_link(SYSTEM, data.project_id))
    env = {**environment(server, data), "JOIN_CODE": link.code}
    output = run_python(example, env, tmp_path).splitlines()
    assert output == ["True True", "True", "True", "1 1 1"]


def test_the_outbox_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("python") if 'outbox="var/outbox.db"' in block]
    output = run_python(example, environment(server, data), tmp_path).splitlines()
    assert output == ["{'profile': {'name': 'Ada'}} False", "True [] []"]
    assert (tmp_path / "var" / "outbox.db").exists()


def test_the_idempotency_key_example(served: tuple[RunningServer, Seed], tmp_path: Path) -> None:
    server, data = served
    (example,) = [block for block in blocks("bash") if "Idempotency-Key: $KEY" in block]
    created = httpx.post(
        f"{server.base_url}/v1/projects/{data.project_id}/sessions",
        json=data.session_body(),
        headers=data.headers(data.owner),
    ).json()
    env = {**environment(server, data), "SESSION": created["sessionId"]}
    lines = run_bash(example, env, tmp_path).lower().splitlines()
    assert [line.strip() for line in lines] == [
        'etag: "2"',
        'etag: "2"',
        "idempotency-replayed: true",
    ]
