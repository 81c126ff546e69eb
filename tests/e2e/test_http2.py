"""HTTP/2 end to end: a real fasthttpd process on 127.0.0.1, real clients.

Every test runs against both HTTP/2 implementations (`--http2-impl compiled|h2`).

Clients: httpx (http2=True), the h2 library over a raw socket (for what httpx
cannot do: 100 streams at once, resets, floods), and curl (prior knowledge and
the h2c upgrade).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import socket
import subprocess
import time
from typing import Any

import h2.events as ev
import httpx
import psutil
import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from hpack import Encoder
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame, PingFrame

from tests.e2e.conftest import RunningServer, run_server

CURL = shutil.which("curl")


# Every test runs on both HTTP/2 implementations: the compiled core and h2.
HTTP2_IMPLEMENTATIONS = ["compiled", "h2"]


@pytest.fixture(scope="module", params=HTTP2_IMPLEMENTATIONS)
def http2_impl(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def h2server(http2_impl: str) -> Any:
    with run_server("--h2-send-timeout", "1", "--h2-max-resets-per-second", "100",
                    "--http2-impl", http2_impl) as server:
        yield server


class RawClient:
    """h2 as a client over a plain socket."""

    def __init__(self, port: int, window: int | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.h2.initiate_connection()
        if window is not None:
            self.h2.update_settings({4: window})  # SETTINGS_INITIAL_WINDOW_SIZE
        self.events: list[Any] = []
        self.closed = False
        self.send()

    def send(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path: str, method: str = "GET", body: bytes = b"") -> int:
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(b":method", method.encode()), (b":path", path.encode()),
                                   (b":scheme", b"http"), (b":authority", b"localhost")],
                             end_stream=not body)
        if body:
            self.h2.send_data(sid, body, end_stream=True)
        self.send()
        return sid

    def pump(self, until: Any, timeout: float = 5.0, ack: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while not until() and not self.closed:
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting on the server")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.closed = True
                break
            events = self.h2.receive_data(data)
            for event in events:
                if ack and isinstance(event, ev.DataReceived) and event.stream_id:
                    self.h2.acknowledge_received_data(event.flow_controlled_length,
                                                      event.stream_id)
            self.events += events
            self.send()

    def done(self, sid: int) -> bool:
        return any(isinstance(e, ev.StreamEnded | ev.StreamReset) and e.stream_id == sid
                   for e in self.events)

    def body(self, sid: int) -> bytes:
        return b"".join(e.data for e in self.events
                        if isinstance(e, ev.DataReceived) and e.stream_id == sid)

    def close(self) -> None:
        self.sock.close()


def read_frames_until_close(sock: socket.socket, timeout: float = 5.0) -> list[Any]:
    """Every frame the server sends until it closes (raw: no h2 state machine)."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    frames = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9:9 + length]))
        frames.append(frame)
        data = data[9 + length:]
    return frames


def rss(server: RunningServer) -> int:
    return psutil.Process(server.proc.pid).memory_info().rss


def server_connections(server: RunningServer) -> list[Any]:
    return psutil.Process(server.proc.pid).net_connections(kind="tcp")


def assert_serves(server: RunningServer) -> None:
    with httpx.Client(http1=False, http2=True, timeout=5) as client:
        response = client.get(f"{server.url}/hello")
    assert response.http_version == "HTTP/2" and response.text == "Hello, world!"


def test_httpx_prior_knowledge(h2server: RunningServer) -> None:
    with httpx.Client(http1=False, http2=True, timeout=5) as client:
        response = client.get(f"{h2server.url}/scope?a=1")
        scope = response.json()
        second = client.get(f"{h2server.url}/hello")
    assert response.http_version == "HTTP/2"
    assert scope["http_version"] == "2" and scope["scheme"] == "http"
    assert scope["query_string"] == "a=1"
    assert ["host", f"127.0.0.1:{h2server.port}"] in scope["headers"]
    assert not any(name.startswith(":") for name, _ in scope["headers"])
    assert second.text == "Hello, world!"


def test_one_megabyte_both_ways(h2server: RunningServer) -> None:
    body = bytes(range(256)) * 4096
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        up = client.post(f"{h2server.url}/echo", content=body)
        down = client.get(f"{h2server.url}/big?1048576")
    assert hashlib.sha256(up.content).digest() == hashlib.sha256(body).digest()
    assert len(down.content) == 1 << 20


def test_hundred_concurrent_streams(h2server: RunningServer) -> None:
    client = RawClient(h2server.port)
    try:
        ids = [client.request(f"/scope?{i}") for i in range(100)]
        client.pump(lambda: all(client.done(sid) for sid in ids))
        for i, sid in enumerate(ids):
            assert json.loads(client.body(sid))["query_string"] == str(i)
    finally:
        client.close()


def test_early_hints_and_trailers(h2server: RunningServer) -> None:
    client = RawClient(h2server.port)
    try:
        hints, trailers = client.request("/early-hints"), client.request("/trailers")
        client.pump(lambda: client.done(hints) and client.done(trailers))
        informational = [e for e in client.events
                         if isinstance(e, ev.InformationalResponseReceived)]
        assert dict(informational[0].headers)[b":status"] == b"103"
        assert client.body(hints) == b"hinted"
        got = [e for e in client.events if isinstance(e, ev.TrailersReceived)]
        assert dict(got[0].headers) == {b"x-checksum": b"abc"}
        assert client.body(trailers) == b"datamore"
    finally:
        client.close()


def test_client_reset_gives_the_app_a_disconnect(h2server: RunningServer) -> None:
    client = RawClient(h2server.port)
    try:
        before = int(httpx.get(f"{h2server.url}/disconnects").text)
        sid = client.h2.get_next_available_stream_id()
        client.h2.send_headers(sid, [(b":method", b"POST"), (b":path", b"/wait-disconnect"),
                                     (b":scheme", b"http"), (b":authority", b"x")])
        client.h2.send_data(sid, b"body", end_stream=True)
        client.send()
        time.sleep(0.2)
        client.h2.reset_stream(sid, ErrorCodes.CANCEL)
        client.send()
        other = client.request("/hello")
        client.pump(lambda: client.done(other))
        assert client.body(other) == b"Hello, world!"
        deadline = time.monotonic() + 3
        while int(httpx.get(f"{h2server.url}/disconnects").text) == before:
            assert time.monotonic() < deadline, "the app never saw http.disconnect"
            time.sleep(0.05)
    finally:
        client.close()


def test_app_errors_stay_on_their_stream(h2server: RunningServer) -> None:
    client = RawClient(h2server.port)
    try:
        before, after = client.request("/error-before"), client.request("/error-after")
        hello = client.request("/hello")
        client.pump(lambda: all(client.done(s) for s in (before, after, hello)))
        statuses = {e.stream_id: dict(e.headers)[b":status"] for e in client.events
                    if isinstance(e, ev.ResponseReceived)}
        assert statuses[before] == b"500"
        resets = {e.stream_id: e.error_code for e in client.events
                  if isinstance(e, ev.StreamReset)}
        assert resets[after] == ErrorCodes.INTERNAL_ERROR
        assert client.body(hello) == b"Hello, world!"
    finally:
        client.close()


def test_zero_window_stream_is_reset(h2server: RunningServer) -> None:
    """The client advertises a zero window and never opens it (--h2-send-timeout 1)."""
    client = RawClient(h2server.port, window=0)
    try:
        sid = client.request("/big?100000")
        started = time.monotonic()
        client.pump(lambda: client.done(sid), timeout=5, ack=False)
        resets = [e for e in client.events if isinstance(e, ev.StreamReset)]
        assert resets and resets[0].error_code == ErrorCodes.CANCEL
        assert time.monotonic() - started >= 0.9
    finally:
        client.close()
    assert_serves(h2server)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_prior_knowledge(h2server: RunningServer) -> None:
    out = subprocess.run([CURL, "-s", "--http2-prior-knowledge", "-w", "\n%{http_version}",
                          f"{h2server.url}/scope"], capture_output=True, timeout=10, check=True)
    body, version = out.stdout.rsplit(b"\n", 1)
    assert version == b"2" and json.loads(body)["http_version"] == "2"


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_h2c_upgrade(h2server: RunningServer) -> None:
    out = subprocess.run([CURL, "-s", "-i", "--http2", f"{h2server.url}/scope?up=1"],
                         capture_output=True, timeout=10, check=True)
    assert out.stdout.startswith(b"HTTP/1.1 101")
    body = out.stdout[out.stdout.index(b"{"):]
    scope = json.loads(body)
    assert scope["http_version"] == "2" and scope["query_string"] == "up=1"
    assert not any(name in ("upgrade", "http2-settings", "connection")
                   for name, _ in scope["headers"])


def test_graceful_shutdown_finishes_streams(http2_impl: str) -> None:
    with run_server("--http2-impl", http2_impl) as server:
        client = RawClient(server.port)
        slow = client.request("/sleep?0.5")
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        frames = read_frames_until_close(client.sock, timeout=5)
        goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
        assert goaway and goaway[0].last_stream_id == slow
        assert goaway[0].error_code == 0
        data = b"".join(f.data for f in frames if f.type == 0 and f.stream_id == slow)
        assert data == b"slept"
        assert server.proc.wait(10) == 0


# Abuse limits: each attack on one connection, memory and a second connection watched.
def attack(server: RunningServer, payload: bytes) -> list[Any]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        client = H2Connection(H2Configuration(client_side=True))
        client.initiate_connection()
        try:
            sock.sendall(client.data_to_send() + payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before it has read everything
        return read_frames_until_close(sock)
    finally:
        sock.close()


def request_block(encoder: Encoder, sid: int, end_stream: bool = True,
                  extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
    frame = HeadersFrame(sid, encoder.encode(
        [(b":method", b"GET"), (b":path", b"/hello"), (b":scheme", b"http"),
         (b":authority", b"x")] + (extra or [])))
    frame.flags.add("END_HEADERS")
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame.serialize()


def rst(sid: int) -> bytes:
    return (4).to_bytes(3, "big") + b"\x03\x00" + sid.to_bytes(4, "big") + b"\x00\x00\x00\x08"


def assert_calmed(server: RunningServer, payload: bytes, code: int = 11) -> None:
    before = rss(server)
    frames = attack(server, payload)
    goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert goaway and goaway[-1].error_code == code
    assert_serves(server)
    assert rss(server) - before < 32 * 1024 * 1024


def test_rapid_reset(h2server: RunningServer) -> None:
    encoder = Encoder()
    payload = b"".join(request_block(encoder, 2 * i + 1, end_stream=False) + rst(2 * i + 1)
                       for i in range(2000))
    assert_calmed(h2server, payload)


def test_made_you_reset(h2server: RunningServer) -> None:
    encoder = Encoder()
    payload = b"".join(request_block(encoder, 2 * i + 1, extra=[(b"te", b"gzip")])
                       for i in range(2000))
    assert_calmed(h2server, payload)


def test_ping_flood(h2server: RunningServer) -> None:
    assert_calmed(h2server, PingFrame(0, b"abcdefgh").serialize() * 5000)


def test_settings_flood(h2server: RunningServer) -> None:
    assert_calmed(h2server, b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x01\x00\x00\x10\x00" * 5000)


def test_window_update_flood(h2server: RunningServer) -> None:
    assert_calmed(h2server, b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x01" * 5000)


def test_empty_data_flood(h2server: RunningServer) -> None:
    encoder = Encoder()
    empty = b"\x00\x00\x00\x00\x00\x00\x00\x00\x01"
    assert_calmed(h2server, request_block(encoder, 1, end_stream=False) + empty * 5000)


def test_continuation_flood(h2server: RunningServer) -> None:
    head = HeadersFrame(1, Encoder().encode([(b":method", b"GET")])).serialize()
    continuation = (16000).to_bytes(3, "big") + b"\x09\x00\x00\x00\x00\x01" + b"\x00" * 16000
    assert_calmed(h2server, head + continuation * 200, code=ErrorCodes.PROTOCOL_ERROR)


def test_hpack_bomb(h2server: RunningServer) -> None:
    encoder = Encoder()
    block = encoder.encode([(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"),
                            (b"x-bomb", b"b" * 4000)]) + b"\xbe" * 4000
    frame = HeadersFrame(1, block)
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    assert_calmed(h2server, frame.serialize())


def test_client_that_never_reads(h2server: RunningServer) -> None:
    """Requests big responses and reads nothing: the server drops it (send timeout 1 s)."""
    sock = socket.create_connection(("127.0.0.1", h2server.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        client = H2Connection(H2Configuration(client_side=True))
        client.initiate_connection()
        client.increment_flow_control_window(2**30)
        client.update_settings({4: 2**30})
        for i in range(20):
            client.send_headers(2 * i + 1, [(":method", "GET"), (":path", "/big?10000000"),
                                            (":scheme", "http"), (":authority", "x")],
                                end_stream=True)
        sock.sendall(client.data_to_send())
        before = rss(h2server)
        port = sock.getsockname()[1]
        deadline = time.monotonic() + 10
        # The server gives up on us: the socket leaves its process (what is left
        # in the kernel's send queue is no longer the server's memory).
        while any(c.raddr and c.raddr.port == port for c in server_connections(h2server)):
            assert time.monotonic() < deadline, "the server kept a client that never reads"
            time.sleep(0.1)
        assert rss(h2server) - before < 64 * 1024 * 1024
    finally:
        sock.close()
    assert_serves(h2server)

