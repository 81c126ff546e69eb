"""Server: listens, runs the app's lifespan, serves connections, shuts down gracefully.

Shutdown order (SIGTERM, SIGINT, `request_shutdown()`, or the request limit):
stop accepting; idle connections close at once and busy ones finish their
in-flight requests (HTTP/1.1 answers carry `Connection: close`, HTTP/2 sends
GOAWAY); past `timeout_graceful_shutdown` what remains is cancelled; then the
lifespan shutdown. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from typing import cast

from fasthttpd.asgi import ASGIApp, AsgiHandler
from fasthttpd.config import Config
from fasthttpd.connection import Connection, close_undecided, listener_facts
from fasthttpd.driver import HttpDriverFactory
from fasthttpd.factory import DefaultHttpDriverFactory
from fasthttpd.http1 import serializer
from fasthttpd.lifespan import Lifespan
from fasthttpd.sockets import describe
from fasthttpd.state import RequestObserver, ServerState

logger = logging.getLogger("fasthttpd.error")

FactoryMaker = Callable[[ServerState], HttpDriverFactory]

# How often the graceful-shutdown wait looks at the remaining connections.
SHUTDOWN_POLL = 0.05


class Server:
    def __init__(self, config: Config, app: ASGIApp | None = None, *,
                 observer: RequestObserver | None = None,
                 on_ready: Callable[[Server], None] | None = None) -> None:
        self.config = config
        self.app = app
        self.observer = observer
        self.on_ready = on_ready
        self.state: ServerState = None  # type: ignore[assignment]  # set by serve()
        self.listeners: list[asyncio.AbstractServer] = []
        self._make_factory: FactoryMaker = DefaultHttpDriverFactory
        self._shutdown: asyncio.Event | None = None
        self._signals = 0
        self._force = False
        self._sweeper: asyncio.TimerHandle | None = None

    def set_http_driver_factory(self, factory: HttpDriverFactory | FactoryMaker) -> None:
        """Replace how drivers are chosen: a factory, or a callable making one from the state."""
        if isinstance(factory, HttpDriverFactory):
            self._make_factory = lambda state: factory
        else:
            self._make_factory = factory

    # Entry points.
    def run(self, sockets: list[socket.socket] | None = None) -> int:
        """Serve in a new event loop until shut down; returns the exit code."""
        from fasthttpd.log import configure_logging

        configure_logging(self.config)
        loop = new_event_loop(self.config.loop)
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(self.serve(sockets, handle_signals=True))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            asyncio.set_event_loop(None)

    async def serve(self, sockets: list[socket.socket] | None = None, *,
                    handle_signals: bool = False) -> int:
        config = self.config
        loop = asyncio.get_running_loop()
        state = self.state = ServerState(config, loop)
        state.observer = self.observer
        state.on_request_limit = self.request_shutdown
        self._shutdown = asyncio.Event()
        if self.app is None:
            from fasthttpd.importer import load_app

            self.app = load_app(config)
        serializer.configure(server_header=b"fasthttpd" if config.server_header else None,
                             date_header=config.date_header)
        lifespan = Lifespan(self.app, config.lifespan, state.lifespan_state)
        if not await lifespan.startup():
            return 3
        if handle_signals:
            self._install_signal_handlers(loop)
        try:
            await self._listen(sockets)
        except BaseException:
            await lifespan.shutdown()
            raise
        if self.on_ready is not None:
            self.on_ready(self)
        await self._shutdown.wait()
        await self._stop_serving()
        await lifespan.shutdown()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return 0

    def request_shutdown(self) -> None:
        """Begin a graceful shutdown (idempotent; safe from signal handlers)."""
        if self._shutdown is not None:
            self._shutdown.set()

    def force_shutdown(self) -> None:
        """Shut down without waiting for in-flight requests (a second signal)."""
        self._force = True
        self.request_shutdown()

    # Listening.
    async def _listen(self, sockets: list[socket.socket] | None) -> None:
        config = self.config
        state = self.state
        loop = state.loop
        if sockets is None:
            from fasthttpd.sockets import bind_sockets

            sockets = bind_sockets(config)
        ssl_context = None
        if config.is_tls:
            from fasthttpd import tls

            ssl_context = tls.create_ssl_context(config)
            tls.quiet_handshake_errors(loop)
        factory = self._make_factory(state)
        handler = self.handler = AsgiHandler(state, self.app)  # type: ignore[arg-type]

        def connection_maker(sock: socket.socket) -> Callable[[], Connection]:
            facts = listener_facts(sock, ssl_context is not None)

            def make_connection() -> Connection:
                return Connection(state, factory, handler, facts)

            return make_connection

        # The TLS handshake counts against the request-head deadline's length.
        handshake_timeout = config.timeout_request_header if ssl_context else None
        for sock in sockets:
            # Connection has a protocol's methods without asyncio.Protocol as its base
            # (it is compiled as a final cdef class): typed as the protocol it acts as.
            protocol_factory = cast("Callable[[], asyncio.Protocol]", connection_maker(sock))
            listener = await loop.create_server(protocol_factory, sock=sock,
                                                ssl=ssl_context, backlog=config.backlog,
                                                ssl_handshake_timeout=handshake_timeout)
            self.listeners.append(listener)
            scheme = "https" if ssl_context else "http"
            logger.info("fasthttpd listening on %s", describe(sock, scheme))
        self._sweep_undecided()

    def _sweep_undecided(self) -> None:
        """Every quarter of the head deadline (at most a second): close the
        connections that did not show their protocol in time."""
        state = self.state
        close_undecided(state)
        tick = min(1.0, self.config.timeout_request_header / 4)
        self._sweeper = state.loop.call_later(tick, self._sweep_undecided)

    # Stopping.
    async def _stop_serving(self) -> None:
        state = self.state
        state.shutting_down = True
        for listener in self.listeners:
            listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(state.connections):
            connection.shutdown()
        deadline = state.loop.time() + self.config.timeout_graceful_shutdown
        while state.connections and state.loop.time() < deadline and not self._force:
            await asyncio.sleep(SHUTDOWN_POLL)
        if state.connections:
            logger.warning("graceful shutdown: cancelling %d request(s) still running",
                           len(self.handler.tasks))
            for task in list(self.handler.tasks):
                task.cancel()
            for connection in list(state.connections):
                connection.abort()
            await asyncio.sleep(0)
        for listener in self.listeners:
            await listener.wait_closed()
        self.listeners.clear()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        if self._signals == 1:
            logger.info("%s received: shutting down gracefully",
                        signal.Signals(sig).name)
            self.request_shutdown()
        else:
            logger.warning("second signal: forcing exit")
            self.force_shutdown()


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """uvloop when asked or available (`auto`), else asyncio's default loop."""
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
