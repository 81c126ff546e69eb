"""Http2Driver without sockets: h2 is the client, the transport is an in-memory stub.

Only the transport is fake (a few methods the driver calls on its connection);
the driver, h2 on the server side and the ASGI request cycle are the real ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import h2.events as ev
import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes

from fasthttpd.asgi import AsgiHandler
from fasthttpd.client import Client
from fasthttpd.config import Config
from fasthttpd.http2 import Http2Driver
from fasthttpd.state import ServerState


class StubConnection:
    """What the driver needs of fasthttpd.connection.Connection: write and close."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading_paused = False

    def write(self, data: bytes, close: bool = False) -> None:
        assert not self.closed, "write after close"
        self.written += data
        if close:
            self.closed = True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False


def make_config(**changes: Any) -> Config:
    return dataclasses.replace(Config(), access_log=False, **changes)


class Peer:
    """An h2 client connection wired to an Http2Driver."""

    def __init__(self, app: Any = None, config: Config | None = None,
                 on_message: Callable[[Any], None] | None = None,
                 start: bool = True) -> None:
        loop = asyncio.get_running_loop()
        self.state = ServerState(config or make_config(), loop)
        self.driver = Http2Driver(self.state)
        self.client = Client(("127.0.0.1", 40000), ("127.0.0.1", 8000))
        self.conn = StubConnection()
        if on_message is None:
            on_message = AsgiHandler(self.state, app or hello_app)
        self.driver.setup(self.client, on_message, self.conn.write, self.conn)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.events: list[Any] = []
        if start:
            self.h2.initiate_connection()
            self.flush()

    def flush(self) -> None:
        """Send what the client queued to the driver."""
        data = self.h2.data_to_send()
        if data:
            self.driver.data_received(data)

    def send_raw(self, data: bytes) -> None:
        self.driver.data_received(data)

    def read(self) -> list[Any]:
        """Feed what the server wrote to the client; return the new events."""
        data = bytes(self.conn.written)
        self.conn.written.clear()
        events = self.h2.receive_data(data) if data else []
        self.events += events
        self.flush()  # WINDOW_UPDATEs, ACKs
        return events

    def request(self, path: str = "/", method: str = "GET", body: bytes = b"",
                headers: list[tuple[bytes, bytes]] | None = None, end: bool = True) -> int:
        stream_id = self.h2.get_next_available_stream_id()
        head = [(b":method", method.encode()), (b":path", path.encode()),
                (b":scheme", b"http"), (b":authority", b"example.test")]
        self.h2.send_headers(stream_id, head + (headers or []),
                             end_stream=end and not body)
        if body:
            self.h2.send_data(stream_id, body, end_stream=end)
        self.flush()
        return stream_id

    async def settle(self, rounds: int = 20) -> list[Any]:
        """Let the apps run and the flushes happen; return the client's events."""
        events: list[Any] = []
        for _ in range(rounds):
            await asyncio.sleep(0)
            events += self.read()
        return events

    async def response(self, stream_id: int, timeout: float = 2.0) -> Response:
        """Wait for the stream to end (or be reset); collect its response."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            result = Response.collect(self.events, stream_id)
            if result.ended or result.reset is not None:
                return result
            await asyncio.sleep(0.001)
            self.read()
        raise AssertionError(f"no response on stream {stream_id} within {timeout}s")


@dataclasses.dataclass
class Response:
    status: int = 0
    headers: dict[bytes, bytes] = dataclasses.field(default_factory=dict)
    informational: list[list[tuple[bytes, bytes]]] = dataclasses.field(default_factory=list)
    body: bytes = b""
    trailers: dict[bytes, bytes] | None = None
    ended: bool = False
    reset: int | None = None

    @classmethod
    def collect(cls, events: list[Any], stream_id: int) -> Response:
        result = cls()
        body = []
        for event in events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, ev.InformationalResponseReceived):
                result.informational.append(list(event.headers))
            elif isinstance(event, ev.ResponseReceived):
                result.headers = dict(event.headers)
                result.status = int(result.headers[b":status"])
            elif isinstance(event, ev.DataReceived):
                body.append(event.data)
            elif isinstance(event, ev.TrailersReceived):
                result.trailers = dict(event.headers)
            elif isinstance(event, ev.StreamEnded):
                result.ended = True
            elif isinstance(event, ev.StreamReset):
                result.reset = event.error_code
        result.body = b"".join(body)
        return result


async def hello_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_hello() -> None:
    async def main() -> None:
        peer = Peer()
        sid = peer.request("/")
        resp = await peer.response(sid)
        assert resp.status == 200
        assert resp.body == b"Hello, world!"
        assert resp.headers[b"server"] == b"fasthttpd"
    run(main())
