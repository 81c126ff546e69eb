"""Slow clients: a body trickled in, a response not read.

A client that does not read its response is cut by --timeout-response-send. "Cut" as
the client sees it: once the server gives up, the response stops. Closing the
socket normally would not do that: the kernel would still hand the client the
megabytes of its send buffer, at whatever pace the client reads (a byte a second
holds the connection for days), so a timed-out connection has to be reset.

A request body trickled in below --limit-request-body-rate ends the request, on
HTTP/2 as on HTTP/1.1 (a stream held by a byte a second holds an app task too).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e.conftest import IMPLEMENTATIONS, run_server


def received_after_a_stall(port: int, stall: float, read_for: float) -> tuple[int, str]:
    """Ask for a 50 MB body, read nothing for `stall` s, then read for up to `read_for` s."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    with sock:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /big?50000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(stall)
        received = 0
        deadline = time.monotonic() + read_for
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received, "reset"
            except TimeoutError:
                return received, "still open"
            if not chunk:
                return received, "closed"
            received += len(chunk)
        return received, "still open"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_client_that_does_not_read_gets_no_more_once_timed_out(impl: str) -> None:
    with run_server("--timeout-response-send", "1", impl=impl) as server:
        received, end = received_after_a_stall(server.port, stall=3.0, read_for=10.0)
        assert "did not read its response" in server.log()
    # What the client got: its own receive buffer and what was in flight, not the
    # server's send buffer (megabytes on loopback).
    assert end in ("reset", "closed")
    assert received < 512 * 1024, f"{received} bytes arrived after the server gave up"


def trickle_h2_body(port: int, interval: float, budget: float, path: str = "/echo") -> str:
    """POST over HTTP/2 (prior knowledge), one body byte every `interval` s; what ended it
    (a response head that comes before the body is read does not end it)."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":path", path), (":scheme", "http"),
                          (":authority", "t"), ("content-length", "1000")])
    streaming = path == "/echo-stream"  # its response starts before the body is read
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(conn.data_to_send())
        sock.settimeout(0.05)
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            conn.send_data(1, b"a")
            sock.sendall(conn.data_to_send())
            pause_end = time.monotonic() + interval
            while time.monotonic() < pause_end:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return "closed"
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived) and not streaming:
                        return "status " + dict(event.headers)[b":status"].decode()
                    if isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(event.flow_controlled_length, 1)
                    if isinstance(event, (h2.events.StreamReset,
                                          h2.events.ConnectionTerminated)):
                        return type(event).__name__
                sock.sendall(conn.data_to_send())
    return "still going"


@pytest.mark.parametrize("http2_impl", ["compiled", "h2"])
def test_slow_post_over_http2_is_ended_below_the_minimum_rate(http2_impl: str) -> None:
    # 2 bytes/s, each gap 0.5 s: well inside --timeout-request-body, far below 240 B/s.
    with run_server("--timeout-request-body", "2", "--http2-impl", http2_impl) as server:
        end = trickle_h2_body(server.port, interval=0.5, budget=8.0)
        # The app was still reading the body: the answer is a 408, as on HTTP/1.1.
        assert end == "status 408"
        assert "slower than 240 bytes/s" in server.log()


@pytest.mark.parametrize("http2_impl", ["compiled", "h2"])
def test_slow_post_over_http2_after_the_response_started_is_reset(http2_impl: str) -> None:
    with run_server("--timeout-request-body", "2", "--http2-impl", http2_impl) as server:
        end = trickle_h2_body(server.port, interval=0.5, budget=8.0, path="/echo-stream")
        assert end == "StreamReset"  # too late for a 408: the response is cut
        assert "slower than 240 bytes/s; reset" in server.log()


def post_h2_body_as_the_window_allows(port: int, path: str, body: bytes,
                                      budget: float) -> tuple[str, int]:
    """POST `body` over HTTP/2 as fast as the server's windows let it; (status, length echoed)."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":path", path), (":scheme", "http"),
                          (":authority", "t"), ("content-length", str(len(body)))])
    status, received, left = "none", 0, body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(conn.data_to_send())
        sock.settimeout(0.05)
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            window = min(conn.local_flow_control_window(1), conn.max_outbound_frame_size)
            if left and window > 0:
                chunk, left = left[:window], left[window:]
                conn.send_data(1, chunk, end_stream=not left)
            sock.sendall(conn.data_to_send())
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"].decode()
                elif isinstance(event, h2.events.DataReceived):
                    received += len(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, h2.events.StreamEnded):
                    return status, received
                elif isinstance(event, (h2.events.StreamReset,
                                        h2.events.ConnectionTerminated)):
                    return type(event).__name__, received
    return status, received


@pytest.mark.parametrize("http2_impl", ["compiled", "h2"])
def test_http2_body_rate_does_not_count_time_the_app_leaves_the_body_unread(
        http2_impl: str) -> None:
    # The first 64 KiB fill the stream's window; the app reads nothing for 3.5 s (three
    # --timeout-request-body windows in which the client cannot send), then the rest.
    body = bytes(range(256)) * 800  # 200 KiB
    with run_server("--timeout-request-body", "1", "--h2-initial-window-size", "65535",
                    "--http2-impl", http2_impl) as server:
        status, received = post_h2_body_as_the_window_allows(server.port, "/echo-later?3.5",
                                                             body, budget=10.0)
        assert "slower than" not in server.log()
    assert (status, received) == ("200", len(body))
