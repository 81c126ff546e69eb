"""WebSockets end to end: a real fasthttpd process, the `websockets` client library,
hand-built frames over raw sockets, and the h2 library for RFC 8441."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.events as ev
import pytest
import trustme
import websockets
from h2.config import H2Configuration
from h2.connection import H2Connection
from hyperframe.frame import DataFrame
from websockets.asyncio.client import connect

from tests.e2e.conftest import RunningServer, run_server

APP = "tests.e2e.ws_apps:app"
KEY = base64.b64encode(b"0123456789abcdef").decode()


@pytest.fixture(scope="module")
def wsserver(impl: str) -> Iterator[RunningServer]:
    with run_server("--ws-max-size", "65536", app=APP, impl=impl) as server:
        yield server


# Raw frames (RFC 6455 5.2): clients mask, servers do not.
def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True,
          rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    if n < 126:
        head = bytes([first, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([first, (0x80 if mask else 0) | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, (0x80 if mask else 0) | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def handshake(path: str = "/echo", *, key: str | None = KEY, version: str | None = "13",
              extra: str = "") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: keep-alive, Upgrade"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


class RawSocket:
    """A socket with a read buffer, for reading a response head then frames."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed by the server")
        self.buf += chunk

    def read_head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers

    def read_body(self, length: int) -> bytes:
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return body

    def read_frame(self) -> tuple[int, bytes]:
        while len(self.buf) < 2:
            self._fill()
        first, second = self.buf[0], self.buf[1]
        assert second & 0x80 == 0, "server frames are not masked"
        n = second & 0x7F
        offset = 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n = struct.unpack("!H", self.buf[2:4])[0]
            offset = 4
        elif n == 127:
            while len(self.buf) < 10:
                self._fill()
            n = struct.unpack("!Q", self.buf[2:10])[0]
            offset = 10
        while len(self.buf) < offset + n:
            self._fill()
        payload = self.buf[offset:offset + n]
        self.buf = self.buf[offset + n:]
        return first & 0x0F, payload

    def is_closed(self, timeout: float = 3.0) -> bool:
        """The server closed the TCP connection (EOF) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:  # closed with our bytes unread: RST
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def open_raw(port: int, path: str = "/echo") -> RawSocket:
    raw = RawSocket(port)
    raw.send(handshake(path))
    status, _ = raw.read_head()
    assert status == 101
    return raw


def close_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0]


def last(server: RunningServer) -> dict[str, Any]:
    raw = RawSocket(server.port)
    raw.send(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers = raw.read_head()
    assert status == 200
    return json.loads(raw.read_body(int(headers["content-length"])))


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


# The websockets client library.
def test_echo_text_and_binary(wsserver: RunningServer) -> None:
    async def go() -> list[Any]:
        async with connect(f"ws://127.0.0.1:{wsserver.port}/echo") as ws:
            got = []
            for message in ("hello", b"\x00\xff" * 1000, "é" * 5000, b""):
                await ws.send(message)
                got.append(await ws.recv())
            return got

    assert run(go()) == ["hello", b"\x00\xff" * 1000, "é" * 5000, b""]


def test_log_level_trace_logs_each_websocket_message(impl: str) -> None:
    async def go(port: int) -> str:
        async with connect(f"ws://127.0.0.1:{port}/echo", compression=None) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            host, local_port = ws.local_address[:2]
        return f"{host}:{local_port}"

    with run_server("--log-level", "trace", app=APP, impl=impl) as server:
        peer = run(go(server.port))
        log = server.wait_for_log(f"{peer} - connection lost",
                                  f"{peer} - ASGI receive websocket.disconnect")
    events = server.log_events_of(peer, log)
    assert events[:7] == [
        "connection made",
        "protocol HTTP/1.1",
        "ASGI receive websocket.connect",
        "ASGI send websocket.accept",
        "protocol WebSocket",
        "ASGI receive websocket.receive (5 characters)",
        "ASGI send websocket.send (5 characters)",
    ], log
    # The app hears of the close and the connection ends, in either order.
    assert sorted(events[7:]) == ["ASGI receive websocket.disconnect (code 1000)",
                                  "connection lost (closed by the server)"], log


def test_permessage_deflate_is_negotiated_and_works(wsserver: RunningServer) -> None:
    async def go() -> tuple[str | None, str]:
        async with connect(f"ws://127.0.0.1:{wsserver.port}/echo") as ws:  # offers deflate
            await ws.send("z" * 20000)
            return ws.response.headers.get("sec-websocket-extensions"), await ws.recv()

    extension, echoed = run(go())
    assert extension is not None and extension.startswith("permessage-deflate")
    assert echoed == "z" * 20000


def test_scope_fields_subprotocol_and_accept_headers(wsserver: RunningServer) -> None:
    async def go() -> tuple[str | None, str | None, dict[str, Any]]:
        url = f"ws://127.0.0.1:{wsserver.port}/sc%6Fpe?a=1&b=%20"
        async with connect(url, subprotocols=["chat.v2", "chat.v1"]) as ws:
            scope = json.loads(await ws.recv())
            return ws.subprotocol, ws.response.headers.get("x-extra"), scope

    subprotocol, extra, scope = run(go())
    assert subprotocol == "chat.v2" and extra == "yes"
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope" and scope["raw_path"] == "b'/sc%6Fpe'"
    assert scope["query_string"] == "b'a=1&b=%20'"
    assert scope["root_path"] == ""
    assert scope["subprotocols"] == ["chat.v2", "chat.v1"]
    assert scope["state"] == {"greeting": "hello"}
    assert "websocket.http.response" in scope["extensions"]
    assert scope["server"] == ["127.0.0.1", wsserver.port]
    assert scope["client"][0] == "127.0.0.1"
    assert "method" not in scope
    assert ["sec-websocket-protocol", "chat.v2, chat.v1"] in scope["headers"]


def test_root_path_and_proxy_headers_reach_the_scope(impl: str) -> None:
    with run_server("--root-path", "/api", app=APP, impl=impl) as server:
        raw = RawSocket(server.port)
        raw.send(handshake("/scope", extra="X-Forwarded-Proto: https\r\n"
                                           "X-Forwarded-For: 203.0.113.9\r\n"))
        assert raw.read_head()[0] == 101
        opcode, payload = raw.read_frame()
        scope = json.loads(payload)
        assert scope["root_path"] == "/api" and scope["path"] == "/api/scope"
        assert scope["scheme"] == "wss"  # from a trusted proxy's X-Forwarded-Proto
        assert scope["client"] == ["203.0.113.9", 0]
        raw.close()


def test_close_before_accept_is_403(wsserver: RunningServer) -> None:
    async def go() -> None:
        async with connect(f"ws://127.0.0.1:{wsserver.port}/deny"):
            pass

    with pytest.raises(websockets.InvalidStatus) as info:
        run(go())
    assert info.value.response.status_code == 403


def test_app_denies_with_its_own_response(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/http-deny"))
    status, headers = raw.read_head()
    assert status == 401 and headers["x-denied"] == "1"
    while not raw.buf.endswith(b"0\r\n\r\n"):
        raw._fill()
    body = raw.buf
    assert b"no " in body and b"entry" in body
    raw.close()


def test_app_error_before_accept_is_500(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/error-before"))
    assert raw.read_head()[0] == 500
    raw.close()
    assert "boom before accept" in wsserver.log()


def test_app_returning_without_accept_is_500(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/no-accept"))
    assert raw.read_head()[0] == 500
    raw.close()


def test_app_error_after_accept_closes_1011(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port, "/error-after")
    raw.send(frame(1, b"go"))
    opcode, payload = raw.read_frame()
    assert opcode == 8 and close_code(payload) == 1011
    assert raw.is_closed()


def test_app_returning_closes_1000(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port, "/returns")
    assert raw.read_frame() == (1, b"bye")
    opcode, payload = raw.read_frame()
    assert opcode == 8 and close_code(payload) == 1000
    raw.send(frame(8, payload[:2]))
    assert raw.is_closed()


def test_app_close_code_reaches_client_and_send_after_close_raises(
        wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port, "/close")
    opcode, payload = raw.read_frame()
    assert opcode == 8 and close_code(payload) == 4000 and payload[2:] == b"bye"
    raw.send(frame(8, payload[:2]))  # complete the closing handshake
    assert raw.is_closed()
    time.sleep(0.1)
    seen = last(wsserver)
    assert seen["send_after_close"] == "ClientDisconnected"
    assert seen["after_close"]["type"] == "websocket.disconnect"
    assert seen["after_close"]["code"] == 4000


def test_client_close_reaches_app_and_later_send_raises(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port, "/record")
    raw.send(frame(8, struct.pack("!H", 4001) + b"done"))
    opcode, payload = raw.read_frame()
    assert opcode == 8 and close_code(payload) == 4001  # echoed (RFC 6455 5.5.1)
    assert raw.is_closed()  # the server closes TCP first (RFC 6455 7.1.1)
    time.sleep(0.1)
    seen = last(wsserver)
    assert seen["disconnect"] == {"type": "websocket.disconnect", "code": 4001, "reason": "done"}
    assert seen["send_after_disconnect"] is True


def test_dropped_connection_is_1006_for_the_app(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port, "/record")
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()  # RST, no Close frame
    time.sleep(0.2)
    assert last(wsserver)["disconnect"]["code"] == 1006


# Raw frames.
def test_frames_pipelined_behind_the_handshake_are_not_lost(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/echo", key="dGhlIHNhbXBsZSBub25jZQ==") + frame(1, b"first")
             + frame(2, b"second", fin=False) + frame(9, b"ping!") + frame(0, b"+more"))
    status, headers = raw.read_head()
    assert status == 101
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3
    assert headers["upgrade"].lower() == "websocket"
    frames = [raw.read_frame() for _ in range(3)]
    assert (1, b"first") in frames and (10, b"ping!") in frames and (2, b"second+more") in frames
    raw.close()


def test_handshake_pipelined_behind_a_request_waits_its_turn(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n" + handshake("/echo")
             + frame(1, b"after both"))
    status, headers = raw.read_head()
    assert status == 200
    raw.read_body(int(headers["content-length"]))
    assert raw.read_head()[0] == 101
    assert raw.read_frame() == (1, b"after both")
    raw.close()


def test_denied_handshake_leaves_the_connection_serving_http(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/deny") + b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers = raw.read_head()
    assert status == 403
    raw.read_body(int(headers["content-length"]))
    assert raw.read_head()[0] == 200  # the request behind it was kept, then served
    raw.close()


def test_ping_is_answered_with_the_same_payload(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port)
    raw.send(frame(9, b"are you there"))
    assert raw.read_frame() == (10, b"are you there")
    raw.close()


@pytest.mark.parametrize(("data", "code"), [
    (frame(1, b"unmasked", mask=False), 1002),  # RFC 6455 5.1
    (frame(1, b"\xc3\x28"), 1007),  # invalid UTF-8 in a text message
    (frame(1, b"x", rsv=4), 1002),  # RSV1 without a negotiated extension
    (frame(3, b"x"), 1002),  # reserved data opcode
    (frame(9, b"x" * 126), 1002),  # control frame over 125 bytes
    (frame(0, b"x"), 1002),  # continuation with nothing to continue
    (frame(2, b"x" * 70000), 1009),  # over --ws-max-size 65536
    (frame(8, struct.pack("!H", 1005)), 1002),  # a code that must not be sent
], ids=["unmasked", "utf8", "rsv1", "opcode", "long-control", "continuation", "too-big",
        "close-1005"])
def test_protocol_errors_get_the_right_close_code(wsserver: RunningServer, data: bytes,
                                                  code: int) -> None:
    bystander = open_raw(wsserver.port)
    raw = open_raw(wsserver.port)
    raw.send(data)
    opcode, payload = raw.read_frame()
    assert opcode == 8 and close_code(payload) == code
    assert raw.is_closed()
    bystander.send(frame(1, b"still here"))  # other connections keep going
    assert bystander.read_frame() == (1, b"still here")
    bystander.close()


def test_too_big_is_decided_from_the_header(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port)
    # Only the header of a 1 GiB frame: the answer does not wait for the payload.
    raw.send(bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 30) + b"mask")
    opcode, payload = raw.read_frame()
    assert opcode == 8 and close_code(payload) == 1009
    raw.close()


def test_bad_key_is_400_and_the_connection_keeps_serving(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/echo", key="dG9vIHNob3J0"))  # "too short": not 16 bytes
    status, headers = raw.read_head()
    assert status == 400
    raw.read_body(int(headers["content-length"]))
    raw.send(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.read_head()[0] == 200
    raw.close()


def test_missing_key_is_400(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/echo", key=None))
    assert raw.read_head()[0] == 400
    raw.close()


@pytest.mark.parametrize("version", [None, "8"])
def test_missing_or_other_version_is_426(wsserver: RunningServer, version: str | None) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/echo", version=version))
    status, headers = raw.read_head()
    assert status == 426 and headers["sec-websocket-version"] == "13"
    raw.read_body(int(headers["content-length"]))
    raw.send(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.read_head()[0] == 200  # the app never saw the handshake; HTTP goes on
    raw.close()


# Flow control and bounded memory.
def test_app_that_never_receives_stops_reading(impl: str) -> None:
    with run_server("--ws-max-queue", "4", app=APP, impl=impl) as server:
        raw = open_raw(server.port, "/never-receive")
        raw.sock.setblocking(False)
        message = frame(2, b"m" * 65536)
        sent = 0
        stalled_since = None
        while sent < 512 * 1024 * 1024:
            try:
                sent += raw.sock.send(message)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break
                time.sleep(0.01)
        # The kernel's buffers and four queued messages hold what was sent; without
        # backpressure the server would read all 512 MiB.
        assert sent < 64 * 1024 * 1024
        raw.close()


def test_client_that_never_reads_blocks_the_app_send(wsserver: RunningServer) -> None:
    raw = open_raw(wsserver.port, "/flood")
    counts = [-1]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # until the count stands still (a busy machine)
        time.sleep(0.5)
        counts.append(last(wsserver)["flood_sent"])
        if counts[-1] == counts[-2]:
            break
    assert counts[-1] == counts[-2]  # the app waits in send()
    assert counts[-1] * 65536 < 64 * 1024 * 1024  # kernel buffers + the high-water mark
    raw.close()


def test_idle_websocket_outlives_the_http_deadlines(impl: str) -> None:
    with run_server("--timeout-keep-alive", "0.5", "--timeout-request-header", "0.5",
                    "--ws-ping-interval", "0", app=APP, impl=impl) as server:
        raw = open_raw(server.port)
        client = H2WebSocket(server.port)
        sid = client.connect("/echo")
        client.wait_for(ev.ResponseReceived)
        time.sleep(1.5)  # idle, past every HTTP deadline
        raw.send(frame(1, b"still open"))
        assert raw.read_frame() == (1, b"still open")
        client.send(sid, frame(1, b"h2 too"))
        assert client.read_frame() == (1, b"h2 too")
        raw.close()
        client.sock.close()


def test_a_slow_accept_is_the_apps_time_not_a_late_head(impl: str) -> None:
    # The app takes 0.5 s to accept: longer than the head deadline, which must not
    # fire on the bytes the client pipelined behind its handshake.
    with run_server("--timeout-request-header", "0.2", app=APP, impl=impl) as server:
        raw = RawSocket(server.port)
        raw.send(handshake("/slow-accept") + frame(1, b"early"))
        assert raw.read_head()[0] == 101
        raw.send(frame(8, struct.pack("!H", 1000)))
        opcode, payload = raw.read_frame()
        assert opcode == 8 and close_code(payload) == 1000
        raw.close()


# Keepalive.
def test_peer_that_does_not_answer_pings_is_closed_with_1011(impl: str) -> None:
    with run_server("--ws-ping-interval", "0.3", "--ws-ping-timeout", "0.3", app=APP,
                    impl=impl) as server:
        raw = open_raw(server.port)
        opcode, payload = raw.read_frame()
        assert opcode == 9  # a keepalive ping; not answered
        opcode, payload = raw.read_frame()
        assert opcode == 8 and close_code(payload) == 1011
        assert raw.is_closed()

        async def answering_client() -> str:
            async with connect(f"ws://127.0.0.1:{server.port}/echo", ping_interval=None) as ws:
                await asyncio.sleep(1.5)  # several pings, answered by the library
                await ws.send("alive")
                return str(await ws.recv())

        assert run(answering_client()) == "alive"


# Shutdown.
def test_shutdown_sends_1001_and_the_apps_see_disconnect(impl: str) -> None:
    with run_server(app=APP, impl=impl) as server:
        async def go() -> list[int | None]:
            clients = [await connect(f"ws://127.0.0.1:{server.port}/echo") for _ in range(3)]
            for ws in clients:
                await ws.send("x")
                await ws.recv()
            server.proc.send_signal(signal.SIGTERM)
            codes = []
            for ws in clients:
                await ws.wait_closed()
                codes.append(ws.close_code)
            return codes

        started = time.monotonic()
        assert run(go()) == [1001, 1001, 1001]
        assert server.proc.wait(10) == 0
        assert time.monotonic() - started < 8
        assert "Traceback" not in server.log()


def test_accepted_during_shutdown_goes_away_at_once(impl: str) -> None:
    with run_server(app=APP, impl=impl) as server:
        raw = RawSocket(server.port)
        raw.send(handshake("/slow-accept"))  # the app accepts after 0.5 s
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        assert raw.read_head()[0] == 101
        opcode, payload = raw.read_frame()
        assert opcode == 8 and close_code(payload) == 1001
        raw.send(frame(8, payload[:2]))
        assert server.proc.wait(10) == 0


# HTTP/2 (RFC 8441), on each HTTP/2 driver: the compiled core and h2 (the fallback),
# the latter also with the pure-Python WebSocket codec and session
# (FASTHTTPD_NO_EXTENSIONS=1, where the compiled core does not exist).
H2_SETUPS = {"core": ("compiled", "compiled"), "h2": ("compiled", "h2"),
             "h2-python": ("python", "h2")}


@pytest.fixture(scope="module", params=list(H2_SETUPS))
def h2_setup(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(impl, --http2-impl)"""
    return H2_SETUPS[request.param]


def run_h2_server(h2_setup: tuple[str, str], *args: str) -> Any:
    impl, http2_impl = h2_setup
    return run_server("--http2-impl", http2_impl, *args, app=APP, impl=impl)


@pytest.fixture(scope="module")
def h2wsserver(h2_setup: tuple[str, str]) -> Iterator[RunningServer]:
    with run_h2_server(h2_setup, "--ws-max-size", "65536") as server:
        yield server


class H2WebSocket:
    def __init__(self, port: int, context: ssl.SSLContext | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if context is not None:
            self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")
            assert self.sock.selected_alpn_protocol() == "h2"
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.h2.initiate_connection()
        self.sock.sendall(self.h2.data_to_send())
        self.events: list[Any] = []
        self.data = b""

    def pump(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        for event in self.h2.receive_data(chunk):
            self.events.append(event)
            if isinstance(event, ev.DataReceived):
                self.data += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length,
                                                  event.stream_id)
        self.sock.sendall(self.h2.data_to_send())

    def wait_for(self, kind: type) -> Any:
        while True:
            for event in self.events:
                if isinstance(event, kind):
                    self.events.remove(event)
                    return event
            self.pump()

    def connect(self, path: str, protocol: bytes = b"websocket",
                scheme: bytes = b"http") -> int:
        sid: int = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [
            (b":method", b"CONNECT"), (b":protocol", protocol), (b":scheme", scheme),
            (b":path", path.encode()), (b":authority", b"127.0.0.1"),
            (b"sec-websocket-version", b"13")])
        self.sock.sendall(self.h2.data_to_send())
        return sid

    def send(self, sid: int, data: bytes, end: bool = False) -> None:
        self.h2.send_data(sid, data, end_stream=end)
        self.sock.sendall(self.h2.data_to_send())

    def read_frame(self) -> tuple[int, bytes]:
        while len(self.data) < 2:
            self.pump()
        n = self.data[1] & 0x7F
        offset = 2
        if n == 126:
            while len(self.data) < 4:
                self.pump()
            n, offset = struct.unpack("!H", self.data[2:4])[0], 4
        while len(self.data) < offset + n:
            self.pump()
        out = self.data[0] & 0x0F, self.data[offset:offset + n]
        self.data = self.data[offset + n:]
        return out


def test_rfc8441_websocket_over_http2(h2wsserver: RunningServer) -> None:
    client = H2WebSocket(h2wsserver.port)
    settings = client.wait_for(ev.RemoteSettingsChanged)
    assert settings.changed_settings[8].new_value == 1  # SETTINGS_ENABLE_CONNECT_PROTOCOL
    sid = client.connect("/echo")
    response = client.wait_for(ev.ResponseReceived)
    assert dict(response.headers)[b":status"] == b"200"
    client.send(sid, frame(1, b"over h2"))
    assert client.read_frame() == (1, b"over h2")
    client.send(sid, frame(9, b"p"))
    assert client.read_frame() == (10, b"p")
    client.send(sid, frame(8, struct.pack("!H", 1000)))
    opcode, payload = client.read_frame()
    assert opcode == 8 and close_code(payload) == 1000
    client.wait_for(ev.StreamEnded)  # the stream ends after the close
    # The connection serves other streams as before.
    sid2 = client.connect("/echo")
    client.wait_for(ev.ResponseReceived)
    client.send(sid2, frame(1, b"second stream"))
    assert client.read_frame() == (1, b"second stream")
    client.sock.close()


def test_rfc8441_scope_is_http_version_2(h2wsserver: RunningServer) -> None:
    client = H2WebSocket(h2wsserver.port)
    sid = client.connect("/scope?q=1")
    assert dict(client.wait_for(ev.ResponseReceived).headers)[b":status"] == b"200"
    while b"}" not in client.data or len(client.data) < 4:
        client.pump()
    # A text frame with a 16-bit length.
    while True:
        n = struct.unpack("!H", client.data[2:4])[0] if client.data[1] & 0x7F == 126 \
            else client.data[1] & 0x7F
        offset = 4 if client.data[1] & 0x7F == 126 else 2
        if len(client.data) >= offset + n:
            break
        client.pump()
    scope = json.loads(client.data[offset:offset + n])
    assert scope["http_version"] == "2" and scope["scheme"] == "ws"
    assert scope["path"] == "/scope" and scope["query_string"] == "b'q=1'"
    client.sock.close()
    assert sid == 1


def test_rfc8441_denial_and_unknown_protocol(h2wsserver: RunningServer) -> None:
    client = H2WebSocket(h2wsserver.port)
    client.connect("/deny")
    assert dict(client.wait_for(ev.ResponseReceived).headers)[b":status"] == b"403"
    client.connect("/echo", protocol=b"not-websocket")
    assert dict(client.wait_for(ev.ResponseReceived).headers)[b":status"] == b"501"
    client.sock.close()


def test_rfc8441_frames_wait_for_the_client_window(h2wsserver: RunningServer) -> None:
    client = H2WebSocket(h2wsserver.port)
    client.h2.update_settings({4: 1000})  # SETTINGS_INITIAL_WINDOW_SIZE: 1000 bytes
    client.sock.sendall(client.h2.data_to_send())
    client.wait_for(ev.SettingsAcknowledged)
    sid = client.connect("/echo")
    client.wait_for(ev.ResponseReceived)
    message = bytes(range(256)) * 12  # 3 KiB: three windows' worth
    client.send(sid, frame(2, message))
    # pump() acknowledges each DATA frame, which reopens the window bit by bit.
    assert client.read_frame() == (2, message)
    sizes = [len(event.data) for event in client.events if isinstance(event, ev.DataReceived)]
    assert max(sizes, default=0) <= 1000
    client.sock.close()


def test_rfc8441_app_that_never_receives_closes_the_window(h2_setup: tuple[str, str]) -> None:
    with run_h2_server(h2_setup, "--ws-max-queue", "2") as server:
        client = H2WebSocket(server.port)
        sid = client.connect("/never-receive")
        client.wait_for(ev.ResponseReceived)
        message = frame(2, b"m" * 16000)
        sent = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            window = client.h2.local_flow_control_window(sid)
            if window >= len(message):
                client.send(sid, message)
                sent += len(message)
                continue
            client.sock.settimeout(1.0)  # any WINDOW_UPDATE would come now
            try:
                client.pump()
            except TimeoutError:
                break
        # The stream's window (256 KiB by default) bounds what the server buffers.
        assert client.h2.local_flow_control_window(sid) < len(message)
        assert sent <= 262144 + len(message)
        client.sock.close()


def wait_for_disconnect_code(server: RunningServer, code: int) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        seen = last(server)
        if seen.get("disconnect", {}).get("code") == code or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_rfc8441_reset_and_lost_connection_are_a_disconnect_for_the_app(
        h2wsserver: RunningServer) -> None:
    for how in ("RST_STREAM", "connection lost"):
        client = H2WebSocket(h2wsserver.port)
        # A clean close first, so that the 1006 below is this session's.
        sid = client.connect("/record")
        client.wait_for(ev.ResponseReceived)
        client.send(sid, frame(8, struct.pack("!H", 4002)))
        assert close_code(client.read_frame()[1]) == 4002
        assert wait_for_disconnect_code(h2wsserver, 4002)["disconnect"]["code"] == 4002
        sid = client.connect("/record")
        client.wait_for(ev.ResponseReceived)
        if how == "RST_STREAM":
            client.h2.reset_stream(sid, 8)  # CANCEL
            client.sock.sendall(client.h2.data_to_send())
        else:
            client.sock.close()
        seen = wait_for_disconnect_code(h2wsserver, 1006)
        assert seen["disconnect"]["code"] == 1006, how
        assert seen["send_after_disconnect"] is True  # send() then raises an OSError
        if how == "RST_STREAM":  # the connection keeps serving
            sid = client.connect("/echo")
            client.wait_for(ev.ResponseReceived)
            client.send(sid, frame(1, b"still here"))
            assert client.read_frame() == (1, b"still here")
            client.sock.close()


def test_rfc8441_stream_without_window_is_reset_after_the_send_timeout(
        h2_setup: tuple[str, str]) -> None:
    # The app sends as fast as it may; the client opens 1000 bytes of window and never
    # gives more: --h2-send-timeout applies to a WebSocket stream as to a response.
    with run_h2_server(h2_setup, "--h2-send-timeout", "1") as server:
        client = H2WebSocket(server.port)
        client.h2.update_settings({4: 1000})  # SETTINGS_INITIAL_WINDOW_SIZE
        client.sock.sendall(client.h2.data_to_send())
        client.wait_for(ev.SettingsAcknowledged)
        sid = client.connect("/flood")
        client.wait_for(ev.ResponseReceived)
        deadline = time.monotonic() + 8
        reset = None
        while reset is None and time.monotonic() < deadline:
            chunk = client.sock.recv(65536)  # DATA is not acknowledged: no window comes back
            assert chunk, "connection closed instead of a stream reset"
            for event in client.h2.receive_data(chunk):
                if isinstance(event, ev.StreamReset) and event.stream_id == sid:
                    reset = event.error_code
            client.sock.sendall(client.h2.data_to_send())
        assert reset == 8  # CANCEL
        assert "no window" in server.log()
        client.sock.close()


@pytest.mark.parametrize("http2_impl", ["compiled", "h2"])
def test_rfc8441_is_not_advertised_with_ws_none(http2_impl: str) -> None:
    with run_server("--ws", "none", "--http2-impl", http2_impl, app=APP) as server:
        client = H2WebSocket(server.port)
        settings = client.wait_for(ev.RemoteSettingsChanged)
        assert settings.changed_settings.get(8) is None or \
            settings.changed_settings[8].new_value == 0
        client.sock.close()


def test_rfc8441_shutdown_sends_1001_on_the_stream(h2_setup: tuple[str, str]) -> None:
    with run_h2_server(h2_setup) as server:
        client = H2WebSocket(server.port)
        sid = client.connect("/echo")
        client.wait_for(ev.ResponseReceived)
        client.send(sid, frame(1, b"x"))
        assert client.read_frame() == (1, b"x")
        server.proc.send_signal(signal.SIGTERM)
        opcode, payload = client.read_frame()
        assert opcode == 8 and close_code(payload) == 1001
        client.wait_for(ev.ConnectionTerminated)  # GOAWAY: the stream in flight may finish
        # h2 sends nothing after a GOAWAY, so the answering Close goes out as a raw frame.
        answer = DataFrame(sid)
        answer.data = frame(8, payload[:2])
        client.sock.sendall(answer.serialize())
        started = time.monotonic()
        assert server.proc.wait(10) == 0
        assert time.monotonic() - started < 5  # not the 10 s closing-handshake bound


# TLS: wss, and RFC 8441 over h2 negotiated by ALPN.
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, trustme.CA]:
    root = tmp_path_factory.mktemp("ws-tls")
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    cert, key = root / "cert.pem", root / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key, authority


def test_wss_scope_and_echo(impl: str, tls_files: tuple[Path, Path, trustme.CA]) -> None:
    cert, key, authority = tls_files
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with run_server("--ssl-certfile", str(cert), "--ssl-keyfile", str(key), app=APP,
                    impl=impl, scheme="https") as server:
        async def go() -> dict[str, Any]:
            async with connect(f"wss://127.0.0.1:{server.port}/scope", ssl=context) as ws:
                return json.loads(await ws.recv())  # type: ignore[no-any-return]

        scope = run(go())
        assert scope["scheme"] == "wss" and "tls" in scope["extensions"]

        h2_context = ssl.create_default_context()
        authority.configure_trust(h2_context)
        h2_context.set_alpn_protocols(["h2"])
        client = H2WebSocket(server.port, h2_context)
        sid = client.connect("/echo", scheme=b"https")
        assert dict(client.wait_for(ev.ResponseReceived).headers)[b":status"] == b"200"
        client.send(sid, frame(2, b"\x00tls h2"))
        assert client.read_frame() == (2, b"\x00tls h2")
        client.sock.close()


# Many connections.
def test_a_thousand_concurrent_websockets(wsserver: RunningServer) -> None:
    async def open_one() -> tuple[Any, Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", wsserver.port)
        writer.write(handshake("/echo"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        return reader, writer

    async def exchange(reader: Any, writer: Any, index: int) -> bytes:
        writer.write(frame(1, f"message {index}".encode()))
        head = await reader.readexactly(2)
        payload: bytes = await reader.readexactly(head[1] & 0x7F)
        writer.write(frame(8, struct.pack("!H", 1000)))
        await reader.readexactly(4)  # the echoed Close
        writer.close()
        return payload

    async def go() -> list[bytes]:
        connections = []
        for _batch in range(10):  # opened 100 at a time, all held open at once
            connections += await asyncio.gather(*(open_one() for _ in range(100)))
        return await asyncio.gather(*(exchange(reader, writer, i)
                                      for i, (reader, writer) in enumerate(connections)))

    results = asyncio.run(asyncio.wait_for(go(), 90))
    assert results == [f"message {i}".encode() for i in range(1000)]


# Options.
def test_ws_none_serves_upgrades_as_plain_http(impl: str) -> None:
    with run_server("--ws", "none", app=APP, impl=impl) as server:
        raw = RawSocket(server.port)
        raw.send(handshake("/echo"))
        status, headers = raw.read_head()
        assert status == 200 and headers["content-type"] == "application/json"
        raw.close()


def test_upgrade_with_a_body_is_not_a_handshake(wsserver: RunningServer) -> None:
    raw = RawSocket(wsserver.port)
    raw.send(handshake("/echo", extra="Content-Length: 5\r\n") + b"hello")
    status, headers = raw.read_head()
    assert status == 200 and headers["content-type"] == "application/json"  # plain HTTP
    raw.close()


def test_per_message_deflate_can_be_switched_off(impl: str) -> None:
    with run_server("--no-ws-per-message-deflate", app=APP, impl=impl) as server:
        async def go() -> tuple[str | None, str]:
            async with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:  # offers it
                await ws.send("plain")
                return ws.response.headers.get("sec-websocket-extensions"), str(await ws.recv())

        assert run(go()) == (None, "plain")


def test_uvicorn_ws_names_mean_auto(impl: str) -> None:
    with run_server("--ws", "websockets", app=APP, impl=impl) as server:
        raw = open_raw(server.port)
        raw.send(frame(1, b"ok"))
        assert raw.read_frame() == (1, b"ok")
        raw.close()


def test_access_log_has_one_line_per_session(impl: str) -> None:
    with run_server("--access-log", "--access-log-format",
                    "%(method)s %(path)s %(status)s %(bytes)s %(bytes_received)s", app=APP,
                    impl=impl) as server:
        raw = open_raw(server.port)
        raw.send(frame(1, b"12345"))
        assert raw.read_frame() == (1, b"12345")
        raw.send(frame(8, struct.pack("!H", 1000)))
        raw.read_frame()
        assert raw.is_closed()
        time.sleep(0.3)
        lines = [line for line in server.log().splitlines() if "GET /echo 101" in line]
        assert len(lines) == 1
        sent, received = map(int, lines[0].split()[-2:])
        assert sent == 7 + 4  # the echo and the Close, unmasked
        assert received == 11 + 8  # the masked text and Close frames


def test_metrics_count_open_websockets_and_messages() -> None:
    from tests.e2e.test_workers import ROOT, run_pool

    def sample(text: str, line_start: str) -> float | None:
        for line in text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.split()[-1])
        return None

    def wait_for(pool: Any, name: str, value: float) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sample(pool.metrics(), name) == value:
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} never reached {value}:\n{pool.metrics()}")

    with run_pool(app=APP, app_dir=ROOT) as pool:
        raw = open_raw(pool.port)
        for text in (b"a", b"b", b"c"):
            raw.send(frame(1, text))
            assert raw.read_frame() == (1, text)
        wait_for(pool, "fasthttpd_open_websockets", 1)
        wait_for(pool, 'fasthttpd_websocket_messages_total{direction="in"}', 3)
        wait_for(pool, 'fasthttpd_websocket_messages_total{direction="out"}', 3)
        raw.send(frame(8, struct.pack("!H", 1000)))
        raw.read_frame()
        assert raw.is_closed()
        wait_for(pool, "fasthttpd_open_websockets", 0)


def test_a_retiring_worker_sends_1001() -> None:
    from tests.e2e.test_workers import ROOT, run_pool

    with run_pool(app=APP, app_dir=ROOT, workers=1) as pool:
        raw = open_raw(pool.port)
        raw.send(frame(1, b"before"))
        assert raw.read_frame() == (1, b"before")
        pool.signal(signal.SIGHUP)  # graceful reload: the worker retires
        opcode, payload = raw.read_frame()
        assert opcode == 8 and close_code(payload) == 1001
        raw.send(frame(8, payload[:2]))
        assert raw.is_closed()
