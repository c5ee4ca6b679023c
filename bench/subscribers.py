"""Writer throughput with and without a subscriber that reads nothing.

Run with ``python bench/subscribers.py`` (``--stall 5`` for a short run). One server process
(``create_app`` under uvicorn, as in ``bench/http.py``) on a fresh SQLite file; ``--writers``
keep-alive connections PATCH one session as fast as it answers, each write replacing a 16 KiB
input, so the session's snapshots pile up quickly in any buffer that is not read.

1. Baseline: the writers alone for ``--stall`` seconds.
2. Stalled: an SSE subscriber on the same session, on a socket with a 4 KiB receive buffer,
   reads its first snapshot and then nothing for ``--stall`` seconds while the writers run
   again; afterwards it reads and must reach the latest version.

Prints one markdown table: both throughputs and their ratio (the target: within 10%), and how
many snapshots the stalled subscriber received against the versions written.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As in bench/http.py: this folder last on sys.path, so that `http.py` here does not shadow
# the standard library's `http`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from httpbench_client import EventStream, HttpConnection, build_request, event_version  # noqa: E402
from httpbench_server import BenchData, ServerProcess, seed_database, server_settings  # noqa: E402

BLOB = "x" * 16_384
TARGET_RATIO = 0.9


async def write_for(seconds: float, port: int, data: BenchData, writers: int) -> int:
    """PATCHes on the hot session from ``writers`` connections; how many were acknowledged."""
    path = data.session_path(data.hot_session_id)
    deadline = time.monotonic() + seconds
    counts = [0] * writers

    async def writer(number: int) -> None:
        connection = await HttpConnection.open(port)
        try:
            while time.monotonic() < deadline:
                body = json.dumps({"inputs": {"blob": BLOB, "n": counts[number]}}).encode()
                request = build_request("PATCH", path, port=port, token=data.token, body=body)
                status, _ = await connection.send(request)
                if status != 200:
                    raise RuntimeError(f"PATCH answered {status}")
                counts[number] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(writer(number) for number in range(writers)))
    return sum(counts)


async def stalled_stream(port: int, data: BenchData) -> EventStream:
    """An SSE stream on a socket whose kernel buffer holds about 4 KiB, past its first event."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    path = data.session_path(data.hot_session_id) + "/events"
    writer.write(build_request("GET", path, port=port, token=data.token))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the stream was refused: {head[:40]!r}")
    stream = EventStream(HttpConnection(reader, writer))
    await stream.initial_version(timeout=10)
    return stream


async def measure(port: int, data: BenchData, stall: float, writers: int) -> dict[str, float]:
    await write_for(1.0, port, data, writers)  # warm-up: the server's caches and connections
    baseline = await write_for(stall, port, data, writers)
    stream = await stalled_stream(port, data)
    stalled = await write_for(stall, port, data, writers)
    # Reading again: the newest version must arrive.
    latest = 0
    received = 0
    async with asyncio.timeout(30):
        connection = await HttpConnection.open(port)
        _, body = await connection.send(
            build_request(
                "GET", data.session_path(data.hot_session_id), port=port, token=data.token
            )
        )
        await connection.close()
        final_version = json.loads(body)["version"]
        while latest < final_version:
            _, events = await stream.read_events()
            for event in events:
                version = event_version(event)
                if version is not None:
                    received += 1
                    latest = version
    await stream.close()
    return {
        "baseline": baseline / stall,
        "stalled": stalled / stall,
        "received": received,
        "written": stalled,
        "latest": latest,
        "final": final_version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stall", type=float, default=30.0, help="seconds of each phase")
    parser.add_argument("--writers", type=int, default=8, help="concurrent connections")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-subscribers-") as folder:
        settings = server_settings(Path(folder)).model_copy(
            update={"rate_limit_per_second": 0.0, "max_subscriptions_per_token": 0}
        )
        data = seed_database(settings, sessions=1)
        server = ServerProcess(settings)
        try:
            server.wait_until_healthy()
            result = asyncio.run(measure(settings.port, data, args.stall, args.writers))
        finally:
            server.stop()
    ratio = result["stalled"] / result["baseline"]
    print(f"Writers: {args.writers} connections on one session, {args.stall:.0f} s per phase\n")
    print("| measurement | result | target | met |")
    print("| --- | ---: | --- | --- |")
    print(f"| PATCH/s, no subscriber | {result['baseline']:,.0f} |  |  |")
    print(f"| PATCH/s, a subscriber reading nothing | {result['stalled']:,.0f} |  |  |")
    met = "yes" if ratio >= TARGET_RATIO else "no"
    print(f"| stalled / baseline | {ratio:.2f}x | >= {TARGET_RATIO}x | {met} |")
    caught_up = "yes" if result["latest"] == result["final"] else "no"
    print(
        f"| snapshots the stalled subscriber received, of versions written | "
        f"{result['received']:,.0f} of {result['written']:,.0f} |  |  |"
    )
    print(
        f"| it then got the latest version ({result['final']:.0f}) | {caught_up} | yes "
        f"| {caught_up} |"
    )


if __name__ == "__main__":
    main()
