"""The HTTP/2 drivers without sockets: h2 is the client, the transport is an in-memory stub.

Every test runs on both implementations (the `http2_impl` fixture): the compiled
core's driver and the h2-based fallback. Only the transport is fake (a few methods
the driver calls on its connection); the driver, its protocol engine and the ASGI
request cycle are the real ones.
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
from hyperframe.frame import Frame, GoAwayFrame

from fasthttpd.asgi import AsgiHandler
from fasthttpd.client import Client
from fasthttpd.config import Config
from fasthttpd.http2 import driver_class
from fasthttpd.state import ServerState

HTTP2_IMPLEMENTATIONS = ["compiled", "h2"]
_driver_class: Any = None


@pytest.fixture(autouse=True, params=HTTP2_IMPLEMENTATIONS)
def http2_impl(request: pytest.FixtureRequest) -> Any:
    """Runs the test once per HTTP/2 implementation; a missing one is a failure."""
    global _driver_class
    _driver_class = driver_class(request.param)
    yield request.param
    _driver_class = None


class StubConnection:
    """What the driver needs of fasthttpd.connection.Connection: write and close."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.was_reset = False
        self.reading_paused = False

    def write(self, data: bytes, close: bool = False) -> None:
        assert not self.closed, "write after close"
        self.written += data
        if close:
            self.closed = True

    def writelines(self, pieces: list[bytes | memoryview], close: bool = False) -> None:
        self.write(b"".join(pieces), close)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def reset(self) -> None:  # an abort with a TCP reset (Writer.reset)
        self.was_reset = True
        self.abort()

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False


def make_config(**changes: Any) -> Config:
    return dataclasses.replace(Config(), access_log=False, **changes)


class Peer:
    """An h2 client connection wired to an H2LibraryDriver."""

    def __init__(self, app: Any = None, config: Config | None = None,
                 on_message: Callable[[Any], None] | None = None,
                 start: bool = True) -> None:
        loop = asyncio.get_running_loop()
        self.state = ServerState(config or make_config(), loop)
        self.driver = _driver_class(self.state)
        self.client = Client(("127.0.0.1", 40000), ("127.0.0.1", 8000))
        self.conn = StubConnection()
        if on_message is None:
            on_message = AsgiHandler(self.state, app or hello_app)
        self.driver.setup(self.client, on_message, self.conn)
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


def split_frames(data: bytes) -> list[Any]:
    """The frames in `data`, parsed by hyperframe (independent of the h2 state machine)."""
    frames = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9:9 + length]))
        frames.append(frame)
        data = data[9 + length:]
    return frames


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


# Apps used below.
async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the scope facts and the request body's size."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    info = (f"{scope['method']} {scope['path']} {scope['query_string'].decode()} "
            f"{scope['scheme']} {scope['http_version']} {size} "
            f"{headers.get(b'host', b'-').decode()} {headers.get(b'cookie', b'-').decode()}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": info.encode()})


def big_app(size: int) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"x" * 65536
        sent = 0
        while sent < size:
            part = chunk[: size - sent]
            sent += len(part)
            await send({"type": "http.response.body", "body": part, "more_body": sent < size})
    return app


class Gate:
    """An app that waits until released, recording what it received."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.started += 1
        if scope["path"] == "/wait-disconnect":
            while True:
                message = await receive()
                self.messages.append(message)
                if message["type"] == "http.disconnect":
                    return
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


def test_scope_from_pseudo_headers() -> None:
    async def main() -> None:
        peer = Peer(echo_app)
        sid = peer.request("/a%20b/c?x=1&y=2", headers=[(b"cookie", b"a=1"), (b"cookie", b"b=2")])
        resp = await peer.response(sid)
        assert resp.body == b"GET /a b/c x=1&y=2 http 2 0 example.test a=1; b=2"
    run(main())


def test_request_body_across_flow_control() -> None:
    """1 MB up: the window reopens only as the app reads (256 KiB stream window)."""
    async def main() -> None:
        peer = Peer(echo_app)
        body = bytes(range(256)) * 4096
        sid = peer.request("/up", method="POST", end=False)
        sent = 0
        deadline = asyncio.get_running_loop().time() + 5
        while sent < len(body):
            assert asyncio.get_running_loop().time() < deadline, "upload stalled"
            window = min(peer.h2.local_flow_control_window(sid), peer.h2.max_outbound_frame_size)
            if window > 0:
                part = body[sent:sent + window]
                sent += len(part)
                peer.h2.send_data(sid, part, end_stream=sent == len(body))
                peer.flush()
            await asyncio.sleep(0)
            peer.read()
        resp = await peer.response(sid)
        assert resp.body.split(b" ")[5] == str(len(body)).encode()
    run(main())


def test_unread_body_is_bounded_by_the_window() -> None:
    """An app that never reads: the client cannot send past the advertised window."""
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate, config=make_config(h2_initial_window_size=65536))
        sid = peer.request("/", method="POST", end=False)
        await peer.settle()
        assert peer.h2.local_flow_control_window(sid) == 65536
        peer.h2.send_data(sid, b"y" * 16384)
        peer.flush()
        await peer.settle()
        # Nothing acknowledged while the app has not read it.
        assert peer.h2.local_flow_control_window(sid) == 65536 - 16384
        stream = peer.driver.streams[sid]
        assert stream.unacknowledged == 16384
        gate.release.set()
        resp = await peer.response(sid)
        assert resp.status == 200
        # The response is complete with the body unread: RST_STREAM NO_ERROR
        # asks the client to stop sending it (RFC 9113 8.1).
        assert any(isinstance(e, ev.StreamReset) and e.error_code == ErrorCodes.NO_ERROR
                   for e in peer.events)
        # The unread bytes went back to the connection window: the client may
        # send as much as before the request.
        await peer.settle()
        assert peer.h2.outbound_flow_control_window >= 1048576 - 16384
    run(main())


def test_response_body_across_flow_control() -> None:
    """1 MB down through the client's default 64 KiB windows."""
    async def main() -> None:
        peer = Peer(big_app(1 << 20))
        sid = peer.request("/down")
        received = 0
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            assert asyncio.get_running_loop().time() < deadline, "download stalled"
            await asyncio.sleep(0)
            for event in peer.read():
                if isinstance(event, ev.DataReceived):
                    received += len(event.data)
                    peer.h2.acknowledge_received_data(event.flow_controlled_length, sid)
            peer.flush()
            if Response.collect(peer.events, sid).ended:
                break
        assert received == 1 << 20
    run(main())


def test_send_body_waits_for_window() -> None:
    """The app's send() blocks at a zero window instead of buffering without bound."""
    async def main() -> None:
        peer = Peer(big_app(1 << 20))
        sid = peer.request("/down")
        await peer.settle(50)
        stream = peer.driver.streams[sid]
        # The client never acknowledged anything: at most one 64 KiB window was
        # sent, and the app holds at most one 64 KiB part, waiting in drain().
        sent = sum(len(e.data) for e in peer.events if isinstance(e, ev.DataReceived))
        assert sent == 65535
        assert len(stream.outbound) <= 65536
        assert stream.drain_waiter is not None
    run(main())


def test_body_is_written_in_bounded_pieces() -> None:
    """An app whose sends never wait (wide windows, a transport that never pushes
    back) still has its body written out as it goes, never gathered whole."""
    async def main() -> None:
        peer = Peer(big_app(8 << 20))
        peer.h2.increment_flow_control_window(2**30)
        peer.h2.update_settings({4: 2**30})  # SETTINGS_INITIAL_WINDOW_SIZE
        peer.flush()
        writes: list[int] = []
        write = peer.conn.write

        def recording_write(data: bytes, close: bool = False) -> None:
            writes.append(len(data))
            write(data, close)

        peer.driver.write = recording_write
        peer.conn.write = recording_write  # what writelines (large DATA) goes through
        sid = peer.request("/")
        resp = await peer.response(sid, timeout=5)
        assert len(resp.body) == 8 << 20
        assert max(writes) <= 1 << 20, f"a write of {max(writes)} bytes"
    run(main())


def test_hundred_concurrent_streams() -> None:
    async def main() -> None:
        peer = Peer(echo_app)
        ids = [peer.request(f"/s{i}") for i in range(100)]
        for i, sid in enumerate(ids):
            resp = await peer.response(sid)
            assert resp.body.startswith(f"GET /s{i} ".encode())
    run(main())


def test_max_concurrent_streams_refused() -> None:
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate, config=make_config(h2_max_concurrent_streams=2))
        first, second = peer.request("/"), peer.request("/")
        third = peer.request("/")
        await peer.settle()
        assert Response.collect(peer.events, third).reset == ErrorCodes.REFUSED_STREAM
        assert gate.started == 2
        gate.release.set()
        assert (await peer.response(first)).body == b"done"
        assert (await peer.response(second)).body == b"done"
        # Room again once those responses completed.
        fourth = peer.request("/")
        assert (await peer.response(fourth)).body == b"done"
    run(main())


def test_client_reset_disconnects_only_that_stream() -> None:
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate)
        waiting = peer.request("/wait-disconnect", method="POST", end=False)
        other = peer.request("/other")
        await peer.settle()
        peer.h2.reset_stream(waiting, ErrorCodes.CANCEL)
        peer.flush()
        await peer.settle()
        assert gate.messages[-1] == {"type": "http.disconnect"}
        gate.release.set()
        assert (await peer.response(other)).body == b"done"
        assert not peer.conn.closed
    run(main())


@pytest.mark.parametrize("headers, reason", [
    ([(b"Upper", b"x")], "uppercase name"),
    ([(b"connection", b"keep-alive")], "connection-specific"),
    ([(b"transfer-encoding", b"chunked")], "transfer-encoding"),
    ([(b"te", b"gzip")], "te other than trailers"),
    ([(b"x", b"a\r\nb")], "CR LF in value"),
    ([(b"x", b" padded")], "leading whitespace"),
    ([(b":protocol", b"websocket")], "unknown pseudo-header"),
    ([(b"x", b"1"), (b":method", b"GET")], "pseudo-header after a regular one"),
    ([(b"host", b"other.test")], "host differs from :authority"),
    ([(b"content-length", b"5")], "content-length without DATA"),
    ([(b"content-length", b"abc")], "invalid content-length"),
])
def test_malformed_request_is_a_stream_error(headers: list[tuple[bytes, bytes]],
                                              reason: str) -> None:
    """RFC 9113 8.1.1: RST_STREAM PROTOCOL_ERROR; the connection keeps serving."""
    async def main() -> None:
        peer = Peer(echo_app)
        peer.h2.config.validate_outbound_headers = False
        peer.h2.config.normalize_outbound_headers = False
        sid = peer.request("/bad", headers=headers)
        resp = await peer.response(sid)
        assert resp.reset == ErrorCodes.PROTOCOL_ERROR, reason
        good = peer.request("/good")
        assert (await peer.response(good)).body.startswith(b"GET /good")
    run(main())


def test_request_reset_in_the_same_read() -> None:
    """HEADERS (malformed, or beyond the stream limit) and the client's RST_STREAM
    arrive together: nothing is answered on it, and the connection goes on."""
    async def main() -> None:
        peer = Peer(echo_app, config=make_config(h2_max_concurrent_streams=1))
        peer.h2.config.validate_outbound_headers = False
        gate = peer.request("/first", end=False)
        for extra in ([(b"te", b"gzip")], []):
            sid = peer.h2.get_next_available_stream_id()
            peer.h2.send_headers(sid, [(b":method", b"GET"), (b":path", b"/"),
                                       (b":scheme", b"http"), (b":authority", b"t")] + extra)
            peer.h2.reset_stream(sid, ErrorCodes.CANCEL)
            peer.flush()
        peer.h2.end_stream(gate)
        peer.flush()
        assert (await peer.response(gate)).body.startswith(b"GET /first")
        assert not peer.conn.closed
    run(main())


def test_missing_pseudo_header_is_a_stream_error() -> None:
    async def main() -> None:
        peer = Peer(echo_app)
        peer.h2.config.validate_outbound_headers = False
        sid = peer.h2.get_next_available_stream_id()
        peer.h2.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"http")], end_stream=True)
        peer.flush()
        assert (await peer.response(sid)).reset == ErrorCodes.PROTOCOL_ERROR
        good = peer.request("/good")
        assert (await peer.response(good)).status == 200
    run(main())


@pytest.mark.parametrize("declared, sent", [(b"3", b"four"), (b"10", b"short")])
def test_content_length_against_data(declared: bytes, sent: bytes) -> None:
    async def main() -> None:
        peer = Peer(echo_app)
        peer.h2.config.validate_outbound_headers = False
        sid = peer.request("/", method="POST", body=sent,
                           headers=[(b"content-length", declared)])
        assert (await peer.response(sid)).reset == ErrorCodes.PROTOCOL_ERROR
        good = peer.request("/good")
        assert (await peer.response(good)).status == 200
    run(main())


def test_trailers_with_pseudo_header_are_a_stream_error() -> None:
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate)
        peer.h2.config.validate_outbound_headers = False
        sid = peer.request("/wait-disconnect", method="POST", end=False)
        await peer.settle()
        peer.h2.send_headers(sid, [(b":path", b"/x")], end_stream=True)
        peer.flush()
        assert (await peer.response(sid)).reset == ErrorCodes.PROTOCOL_ERROR
        await peer.settle()
        assert gate.messages[-1] == {"type": "http.disconnect"}
    run(main())


def test_early_hints_and_trailers() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"body"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    async def main() -> None:
        peer = Peer(app)
        sid = peer.request("/")
        resp = await peer.response(sid)
        assert resp.informational == [[(b":status", b"103"),
                                       (b"link", b"</style.css>; rel=preload")]]
        assert resp.status == 200 and resp.body == b"body"
        assert resp.trailers == {b"x-checksum": b"abc"}
    run(main())


def test_app_error_before_and_after_start() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/late":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("boom")

    async def main() -> None:
        peer = Peer(app)
        early, late = peer.request("/early"), peer.request("/late")
        resp = await peer.response(early)
        assert resp.status == 500 and resp.ended
        resp = await peer.response(late)
        assert resp.reset == ErrorCodes.INTERNAL_ERROR and not resp.ended
        assert not peer.conn.closed
    run(main())


def test_head_response_has_no_body() -> None:
    async def main() -> None:
        peer = Peer(hello_app)
        sid = peer.request("/", method="HEAD")
        resp = await peer.response(sid)
        assert resp.status == 200 and resp.body == b"" and resp.ended
    run(main())


def test_graceful_stop_finishes_streams_in_flight() -> None:
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate)
        sid = peer.request("/")
        await peer.settle()
        peer.driver.stop()
        # h2 as a client drops everything after a GOAWAY, so the frames are
        # checked raw and the GOAWAY kept from it.
        frames = split_frames(bytes(peer.conn.written))
        peer.conn.written.clear()
        goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
        assert len(goaway) == 1 and goaway[0].last_stream_id == sid
        assert goaway[0].error_code == ErrorCodes.NO_ERROR
        assert not peer.conn.closed
        # A stream the client opens after the GOAWAY is refused.
        late = peer.request("/late")
        assert Response.collect(peer.read(), late).reset == ErrorCodes.REFUSED_STREAM
        assert gate.started == 1
        gate.release.set()
        await peer.settle()
        assert Response.collect(peer.events, sid).body == b"done"
        assert peer.conn.closed
    run(main())


def test_idle_connection_gets_goaway() -> None:
    async def main() -> None:
        peer = Peer(hello_app, config=make_config(timeout_keep_alive=0.2))
        sid = peer.request("/")
        await peer.response(sid)
        await asyncio.sleep(0.5)
        peer.read()
        assert peer.conn.closed
        assert any(isinstance(e, ev.ConnectionTerminated) and e.error_code == 0
                   for e in peer.events)
    run(main())


def test_pending_request_count_follows_bodies() -> None:
    async def main() -> None:
        gate = Gate()
        peer = Peer(gate)
        sid = peer.request("/", method="POST", end=False)
        peer.request("/")
        await peer.settle()
        assert peer.driver.pending_request_count == 1
        assert peer.client.pending_response_count == 2
        peer.h2.end_stream(sid)
        peer.flush()
        assert peer.driver.pending_request_count == 0
        gate.release.set()
        await peer.settle()
        assert peer.client.pending_response_count == 0
    run(main())


def test_h2c_upgrade_hand_off() -> None:
    """Http1Driver's part is done: the driver takes stream 1 from the upgrade request."""
    import base64

    async def main() -> None:
        peer = Peer(echo_app, start=False)
        client_h2 = peer.h2
        settings = client_h2.initiate_upgrade_connection()
        head = type("Head", (), {"method": "GET", "path": b"/up", "query": b"q=1", "headers": [
            (b"host", b"example.test"), (b"connection", b"Upgrade, HTTP2-Settings"),
            (b"upgrade", b"h2c"), (b"http2-settings", settings)]})()
        assert base64.urlsafe_b64decode(settings + b"=" * (-len(settings) % 4))
        peer.driver.accept_h2c_upgrade(settings, head)
        peer.flush()  # the client preface and SETTINGS
        resp = await peer.response(1)
        assert resp.body == b"GET /up q=1 http 2 0 example.test -"
        sid = peer.request("/next")
        assert (await peer.response(sid)).body.startswith(b"GET /next")
    run(main())


def test_response_header_injection_is_refused() -> None:
    """A CR LF in a response header never reaches the wire: a 500 goes out instead."""
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-bad", b"line\r\ninjected: yes")]})
        await send({"type": "http.response.body", "body": b"never"})

    async def main() -> None:
        peer = Peer(app)
        sid = peer.request("/")
        resp = await peer.response(sid)
        assert resp.status == 500 and resp.ended
        assert b"x-bad" not in resp.headers and b"injected" not in resp.headers
        assert not peer.conn.closed
    run(main())
