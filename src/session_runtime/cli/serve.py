"""``serve``: the HTTP and real-time server, started only once nothing stands in its way.

Before anything is written (no database file, no demo, no tokens printed) it checks that no
other server holds the SQLite file (``server_lock``) and binds its address; uvicorn then serves
on that very socket, so the address cannot be taken in between. A SIGTERM stops it as Ctrl-C
does, and once the shutdown was clean the process exits 0, as a supervisor expects.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Iterator
from types import FrameType
from typing import Annotated

import uvicorn

from ..api.app import create_app
from ..api.websocket import transport_max_bytes
from ..settings import Settings
from .console import out
from .demo import create_demo_if_empty, print_demo
from .errors import CliError
from .logs import configure_logging
from .options import DatabaseOption, DatabaseUrlOption, option_without_default
from .runner import load_settings, run_with
from .server_lock import DatabaseInUseError, ServerLock, ServerRecord

# Long-lived streams (SSE, WebSocket) would hold a shutdown forever; give them this long.
GRACEFUL_SHUTDOWN_SECONDS = 5


def url_of(host: str, port: int) -> str:
    """The server's address as a browser wants it (an IPv6 host in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind_address(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn to serve on, or a plain ``CliError``."""
    url = url_of(host, port)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise CliError(f"cannot serve on {url}: unknown host {host!r} ({exc.strerror})") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"cannot serve on {url}: the address is already in use (another program "
                "listens there); stop it, or choose another --port or --host"
            ) from None
        raise CliError(f"cannot serve on {url}: {exc.strerror or exc}") from None
    return sock


@contextlib.contextmanager
def claim(settings: Settings) -> Iterator[socket.socket]:
    """The database (SQLite: one server per file) and the address, both held for the server."""
    lock = None if settings.database_url else ServerLock(settings.database_path)
    if lock is not None:
        holder = lock.holder()  # before binding, so that a second server names the first
        if holder is not None:
            raise DatabaseInUseError(lock.database, holder)
    sock = bind_address(settings.host, settings.port)
    try:
        if lock is not None:
            lock.acquire(ServerRecord(pid=os.getpid(), host=settings.host, port=settings.port))
        try:
            yield sock
        finally:
            if lock is not None:
                lock.release()
    finally:
        sock.close()


def run_server(settings: Settings, sock: socket.socket) -> None:
    """Serve on ``sock`` until SIGINT or SIGTERM; return normally after a clean SIGTERM stop."""
    config = uvicorn.Config(
        create_app(settings),
        ws_max_size=transport_max_bytes(settings.ws_max_message_bytes),
        log_config=None,  # logging is configured by the command, uvicorn's loggers included
        access_log=False,  # the app writes its own (SESSION_RUNTIME_ACCESS_LOG)
        # The app reads X-Forwarded-For itself, and only from SESSION_RUNTIME_TRUSTED_PROXIES.
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        lifespan="on",
    )
    server = uvicorn.Server(config)

    def stop_serving(_signal: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn handles SIGTERM while it serves, then restores this handler and raises the
    # signal again for it: here that only asks a server that has stopped to stop, so the
    # process exits 0. (A SIGTERM that comes before uvicorn took over stops it all the same.)
    previous = signal.signal(signal.SIGTERM, stop_serving)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise CliError("the server could not start (see the log above)")


def serve(
    host: Annotated[
        str | None,
        option_without_default(
            help="Address to listen on (default: $SESSION_RUNTIME_HOST or 127.0.0.1)"
        ),
    ] = None,
    port: Annotated[
        int | None,
        option_without_default(help="Port to listen on (default: $SESSION_RUNTIME_PORT or 8000)"),
    ] = None,
    database: DatabaseOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the HTTP and real-time server (REST, SSE, WebSocket, /docs) on the database.

    On the first start with a new database it sets up a demo project, event and experience and
    prints an owner token and a guest token, once (as [bold]init[/] does). Other settings come
    from SESSION_RUNTIME_* environment variables. Stop it with Ctrl-C or SIGTERM. A SQLite file
    takes one server: a second one on the same file refuses to start and names the first.
    """
    settings = load_settings(
        database_path=database, database_url=database_url, host=host, port=port
    )
    # The server logs INFO at least (requests, failed operations); -vv shows DEBUG too.
    configure_logging(min(logging.getLogger().getEffectiveLevel(), logging.INFO))
    with claim(settings) as sock:
        demo = run_with(settings, create_demo_if_empty, may_create=True)
        where = "PostgreSQL" if settings.database_url else str(settings.database_path)
        if demo is not None:
            print_demo(demo, where)
        url = url_of(settings.host, settings.port)
        out().print(
            f"Serving {where} on {url} (the dashboard at {url}/, API docs at {url}/docs)",
            soft_wrap=True,
        )
        run_server(settings, sock)
