"""Server start-up and event-loop choices, end to end."""

import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import IMPLEMENTATIONS, ROOT, free_port, run_server, server_env


def run_to_exit(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fasthttpd", *args, "--port", str(free_port()),
         "--app-dir", str(ROOT)],
        capture_output=True, text=True, timeout=timeout, env=server_env("compiled"), cwd=ROOT)


def test_startup_failure_exits_3_without_serving():
    result = run_to_exit("tests.e2e.lifespan_apps:failing_startup")
    assert result.returncode == 3
    assert "database unreachable" in result.stderr


def test_lifespan_on_requires_support():
    result = run_to_exit("tests.e2e.lifespan_apps:no_lifespan", "--lifespan", "on")
    assert result.returncode == 3


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_app_without_lifespan_is_served_in_auto_and_off(mode):
    with run_server("--lifespan", mode, app="tests.e2e.lifespan_apps:no_lifespan") as srv:
        assert httpx.get(srv.url, timeout=5).text == "ok"


def test_asyncio_loop_serves_too():
    with run_server("--loop", "asyncio") as srv:
        assert httpx.get(srv.url + "/hello", timeout=5).text == "Hello, world!"


def test_tls_handshake_is_bounded_by_the_head_deadline(tmp_path):
    """A client that connects to the TLS port and never completes its handshake
    (sends nothing, or part of a ClientHello), or completes it and sends no request
    (with --http 2 too, where a client without ALPN h2 must send the preface), is
    closed at --timeout-request-header."""
    import socket
    import time

    from tests.e2e.test_tls import Pki

    pki = Pki(tmp_path)
    with run_server(*pki.server_args(), "--timeout-request-header", "0.5",
                    scheme="https") as srv:
        for data in (b"", b"\x16\x03\x01\x02\x00\x01"):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                start = time.monotonic()
                sock.sendall(data)
                assert sock.recv(1000) == b"", data
                assert 0.4 < time.monotonic() - start < 2.5, data
    for args in ((), ("--http", "2")):
        with run_server(*pki.server_args(), "--timeout-request-header", "0.5", *args,
                        scheme="https") as srv:
            context = pki.client_context()
            context.set_alpn_protocols(["http/1.1"])
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                start = time.monotonic()
                assert sock.recv(1000) == b"", args
                assert time.monotonic() - start < 2.5, args


def post_and_wait_for_its_close(srv) -> str:
    """One POST /echo on its own connection (Connection: close); returns the peer
    address the server saw, "127.0.0.1:PORT"."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        host, port = sock.getsockname()
        peer = f"{host}:{port}"
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Connection: close\r\n\r\nhello")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"hello")
    return peer


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_log_level_trace_logs_the_connection_and_every_asgi_message(impl):
    with run_server("--log-level", "trace", impl=impl) as srv:
        peer = post_and_wait_for_its_close(srv)
        log = srv.wait_for_log(f"{peer} - connection lost")
    assert srv.log_events_of(peer, log) == [
        "connection made",
        "protocol HTTP/1.1",
        "ASGI receive http.request (5 bytes)",
        "ASGI send http.response.start (status 200)",
        "ASGI send http.response.body (5 bytes)",
        "connection lost (closed by the server)",
    ], log
    assert all(" TRACE " in line for line in log.splitlines() if f" {peer} - " in line)


def test_log_level_info_logs_no_protocol_detail():
    with run_server("--log-level", "info") as srv:
        peer = post_and_wait_for_its_close(srv)
        time.sleep(0.3)  # time enough for lines that should not come
        log = srv.log()
    assert peer not in log and " TRACE " not in log, log
