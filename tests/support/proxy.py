"""A TCP proxy on 127.0.0.1 that can lose the answers: the request reaches the server, the
response never reaches the client.

That is what a dropped Wi-Fi looks like to a client at the worst moment: the write committed,
the client saw an error. ``LossyProxy`` runs an asyncio server in a thread of its own;
``drop_responses = True`` makes it pass every byte the client sends and, as soon as the server
starts answering, discard the answer and close the client's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType


class LossyProxy:
    """``127.0.0.1:<port>`` forwarding to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.drop_responses = False
        self.responses_dropped = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._started = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name="lossy-proxy", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _shutdown(self) -> None:
        # Closing every connection ends each handler by itself (cancelling the handlers
        # would make asyncio's streams complain about the cancelled callbacks).
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        await self._server.wait_closed()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        try:
            upstream, to_server = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            to_client.close()
            return
        self._writers.update((to_client, to_server))
        forward = asyncio.create_task(self._pump(client, to_server))
        try:
            while chunk := await upstream.read(65536):
                if self.drop_responses:
                    # The server answered (so the write happened); the client never hears it.
                    self.responses_dropped += 1
                    break
                to_client.write(chunk)
                await to_client.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forward
            for writer in (to_client, to_server):
                self._writers.discard(writer)
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await source.read(65536):
                target.write(chunk)
                await target.drain()
