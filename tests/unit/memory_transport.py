"""An in-memory transport for driving a Connection without sockets.

Only the transport is fake: the connection, driver, parser, serializer and ASGI
cycle under test are the real ones. Responses are read back with h11, an
independent HTTP/1.1 implementation.
"""

from __future__ import annotations

import asyncio
import dataclasses
from types import ModuleType
from typing import Any

import h11

from fasthttpd.asgi import AsgiHandler
from fasthttpd.config import Config
from fasthttpd.connection import Connection
from fasthttpd.driver import HttpDriverFactory
from fasthttpd.http1.driver import Http1Driver
from fasthttpd.state import ServerState


class MemoryTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.Protocol, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.protocol = protocol
        self.loop = loop
        self.written = bytearray()
        self.write_calls = 0
        self.closed = False
        self.aborted = False
        self.reading_paused = False
        self._lost = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.written += data
        self.write_calls += 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.call_soon(self._lose)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def _lose(self) -> None:
        if not self._lost:
            self._lost = True
            self.protocol.connection_lost(None)

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    def is_reading(self) -> bool:
        return not self.reading_paused

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default)

    def client_gone(self) -> None:
        """The peer closed the connection."""
        self.closed = True
        self._lose()

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data


class FixedFactory(HttpDriverFactory):
    """Always HTTP/1.1, on the given parser/serializer implementation."""

    def __init__(self, state: ServerState, impl: ModuleType) -> None:
        self.state = state
        self.impl = impl

    def select_driver(self, client: Any, data: bytes) -> Http1Driver:
        return Http1Driver(self.state, impl=self.impl)


class Harness:
    def __init__(self, app: Any, impl: ModuleType, **settings: Any) -> None:
        self.loop = asyncio.get_running_loop()
        config = dataclasses.replace(Config(), access_log=False, **settings)
        self.state = ServerState(config, self.loop)
        self.handler = AsgiHandler(self.state, app)
        self.factory = FixedFactory(self.state, impl)
        self.connection = Connection(self.state, self.factory, self.handler)
        self.transport = MemoryTransport(self.connection, self.loop)
        self.connection.connection_made(self.transport)

    def send(self, data: bytes) -> None:
        self.connection.data_received(data)

    async def settle(self, rounds: int = 20) -> None:
        """Let the app tasks run until nothing more happens."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    def responses(self, data: bytes | None = None, method: bytes = b"GET") -> list[Response]:
        return parse_responses(self.transport.take() if data is None else data, method)


@dataclasses.dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    trailers: dict[bytes, bytes]
    informational: list[int]
    complete: bool


def parse_responses(data: bytes, method: bytes = b"GET") -> list[Response]:
    """Split a server's output into responses with h11 (as a client would)."""
    responses: list[Response] = []
    conn = h11.Connection(h11.CLIENT)
    while True:
        conn.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
        conn.send(h11.EndOfMessage())
        if data:
            conn.receive_data(data)
            data = b""
        informational: list[int] = []
        current: Response | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if current is not None:
                    responses.append(current)
                return responses
            if isinstance(event, h11.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                current = Response(event.status_code, dict(event.headers), b"", {},
                                   informational, False)
            elif isinstance(event, h11.Data):
                assert current is not None
                current.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert current is not None
                current.trailers = dict(event.headers)
                current.complete = True
                responses.append(current)
                break
            elif isinstance(event, h11.ConnectionClosed):
                return responses
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return responses
        conn.start_next_cycle()
