"""ServerState: what every connection and driver of one server shares."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fasthttpd.config import Config

if TYPE_CHECKING:
    from fasthttpd.connection import Connection


class RequestObserver:
    """Told about every finished response; the worker pool's metrics implement it.

    The server calls it only when one is installed, so the default costs nothing.
    """

    def request_finished(self, http_version: str, status: int, duration: float) -> None:
        pass

    def connection_opened(self) -> None:
        pass

    def connection_closed(self) -> None:
        pass

    def app_error(self, exc: BaseException, method: str, path: str) -> None:
        pass

    def websocket_opened(self) -> None:
        pass

    def websocket_closed(self) -> None:
        pass

    def websocket_messages(self, received: int, sent: int) -> None:
        pass


class ServerState:
    """Shared by the server's connections; created by `Server`, read by drivers."""

    def __init__(self, config: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        self.connections: set[Connection] = set()
        # Connections without a driver yet (protocol not known), in accept order,
        # with their request-head deadline (loop time); see connection.close_undecided.
        self.undecided: dict[Connection, float] = {}
        # What every HTTP/1.1 driver derives from `config`, made by the first one
        # (fasthttpd.http1.driver._settings).
        self.http1_settings: tuple[Any, ...] | None = None
        self.active_requests = 0  # requests whose response is not complete
        self.total_requests = 0
        self.shutting_down = False
        # --log-level trace, read once here: connections and ASGI messages are then
        # logged at TRACE (fasthttpd.connection, fasthttpd.wrappers.MessageTrace);
        # otherwise that costs one flag test per connection and nothing per request.
        self.trace = config.log_level == "trace"
        # Shared into each request's scope["state"] (ASGI lifespan state).
        self.lifespan_state: dict[str, Any] = {}
        self.observer: RequestObserver | None = None
        # Called once total_requests reaches limit_max_requests (worker recycling).
        self.on_request_limit: Callable[[], None] | None = None
