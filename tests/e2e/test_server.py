"""Server start-up and event-loop choices, end to end."""

import subprocess
import sys

import httpx
import pytest

from tests.e2e.conftest import ROOT, free_port, run_server, server_env


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
