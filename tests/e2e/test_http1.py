"""HTTP/1.1 end to end: a real fasthttpd process, real sockets, httpx and raw clients."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import httpx
import psutil
import pytest

from tests.e2e.conftest import IMPLEMENTATIONS, exchange, run_server


def test_hello_and_keep_alive(server):
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for _ in range(3):
            response = client.get("/hello")
            assert response.status_code == 200
            assert response.text == "Hello, world!"
            assert response.headers["server"] == "fasthttpd"
            assert "date" in response.headers
        assert response.http_version == "HTTP/1.1"


def test_scope_is_complete(server):
    response = httpx.get(server.url + "/scope?a=1&b=%20", headers={"X-Test": "yes"}, timeout=5)
    scope = response.json()
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["root_path"] == ""
    assert ["x-test", "yes"] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", server.port]
    assert "http.response.early_hint" in scope["extensions"]
    assert "http.response.trailers" in scope["extensions"]
    assert scope["state"] == {"started": "yes"}  # set by the lifespan startup


FORWARDED = {"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Forwarded-Proto": "https"}


def test_proxy_headers_from_a_trusted_peer_set_client_and_scheme(server):
    # Defaults: --proxy-headers, --forwarded-allow-ips 127.0.0.1 (this client).
    scope = httpx.get(server.url + "/scope", headers=FORWARDED, timeout=5).json()
    assert scope["client"] == ["198.51.100.2", 0]  # the last hop, added by the proxy
    assert scope["scheme"] == "https"


def test_proxy_headers_from_an_untrusted_peer_are_ignored(impl):
    with run_server("--forwarded-allow-ips", "192.0.2.1", impl=impl) as server:
        scope = httpx.get(server.url + "/scope", headers=FORWARDED, timeout=5).json()
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"


def test_path_is_percent_decoded(server):
    raw = exchange(server.port, b"GET /%73cope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = raw.split(b"\r\n\r\n", 1)[1]
    scope = json.loads(body)
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/%73cope"


def test_post_echo_and_streamed_upload(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/echo", content=b"abc").content == b"abc"
        payload = b"0123456789" * 100_000

        def chunks():
            for i in range(0, len(payload), 65536):
                yield payload[i:i + 65536]

        response = client.post("/echo-stream", content=chunks())
        assert response.content == payload


def test_streamed_response_is_chunked(server):
    with httpx.stream("GET", server.url + "/stream", timeout=5) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        parts = list(response.iter_bytes())
    assert b"".join(parts) == b"".join(b"chunk%d\n" % i for i in range(10))


def test_pipelined_requests_answered_in_order(server):
    requests = b"".join(b"GET /scope?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(16))
    requests += b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = exchange(server.port, requests)
    assert raw.count(b"HTTP/1.1 200 OK") == 17
    positions = [raw.index(b'"n=%d"' % i) for i in range(16)]
    assert positions == sorted(positions)
    assert raw.endswith(b"Hello, world!")


def test_head_and_http10(server):
    raw = exchange(server.port, b"HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and raw.endswith(b"\r\n\r\n")
    assert b"content-length: 13" in raw.lower()
    raw = exchange(server.port, b"GET /hello HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in raw.lower()
    assert raw.endswith(b"Hello, world!")


def test_expect_100_continue(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"ping")
        response = sock.recv(1000)
        assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(b"ping")


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
    (b"GET / HTTP/1.1\nHost: x\n\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),
    (b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
])
def test_bad_requests_get_status_and_close_and_log(server, request_bytes, status):
    raw = exchange(server.port, request_bytes)
    assert raw.startswith(b"HTTP/1.1 %d " % status)
    assert b"connection: close" in raw.lower()
    # The process keeps serving others.
    assert httpx.get(server.url + "/hello", timeout=5).status_code == 200


def test_bad_request_is_logged_with_reason():
    with run_server() as srv:
        exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n")
        time.sleep(0.2)
        log = srv.log()
        assert "400 Bad Request from 127.0.0.1" in log


def test_app_errors(server):
    with httpx.Client(base_url=server.url, timeout=5) as client:
        response = client.get("/error-before")
        assert response.status_code == 500
        assert response.headers["connection"] == "close"
        assert client.get("/no-response").status_code == 500
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/error-after", timeout=5)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/short-body", timeout=5)
    response = httpx.get(server.url + "/bad-header", timeout=5)
    assert response.status_code == 500
    assert "injected" not in response.headers


def test_trailers_and_early_hints_on_the_wire(server):
    raw = exchange(server.port, b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n"
                                b"Connection: close\r\n\r\n")
    assert raw.endswith(b"0\r\nx-checksum: abc\r\n\r\n")
    raw = exchange(server.port,
                   b"GET /early-hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n")
    assert b"HTTP/1.1 200 OK" in raw and raw.endswith(b"hinted")


def test_disconnect_reaches_the_app_and_send_raises(server):
    for path in (b"/wait-disconnect", b"/send-after-disconnect"):
        before = int(httpx.get(server.url + "/disconnects", timeout=5).text)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
            time.sleep(0.1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if int(httpx.get(server.url + "/disconnects", timeout=5).text) > before:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"{path!r}: the app never saw http.disconnect")
    assert httpx.get(server.url + "/send-error", timeout=5).text == "ClientDisconnected"


def test_client_that_never_reads_costs_bounded_memory(server):
    """A 64 MiB response to a client that reads nothing: the server's memory stays flat."""
    process = psutil.Process(server.proc.pid)
    before = process.memory_info().rss
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big?67108864 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.0)
        grown = process.memory_info().rss - before
    assert grown < 16 * 1024 * 1024
    assert httpx.get(server.url + "/hello", timeout=5).status_code == 200


def test_large_upload_ignored_by_app_costs_bounded_memory(server):
    process = psutil.Process(server.proc.pid)
    before = process.memory_info().rss
    stop = threading.Event()
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /sleep?3 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        sock.settimeout(0.5)
        chunk = b"x" * 65536
        deadline = time.monotonic() + 1.5
        try:
            while time.monotonic() < deadline and not stop.is_set():
                sent += sock.send(chunk)
        except (TimeoutError, BlockingIOError):
            pass
        grown = process.memory_info().rss - before
    assert sent < 64 * 1024 * 1024  # the server stopped reading
    assert grown < 16 * 1024 * 1024


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_deadlines_and_limits(impl):
    with run_server("--timeout-keep-alive", "0.3", "--timeout-request-header", "0.5",
                    "--timeout-request-body", "0.5", "--limit-request-body", "100",
                    "--limit-request-line", "64", "--limit-request-fields", "5",
                    "--limit-request-field-size", "64", impl=impl) as srv:
        # keep-alive idle
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(1000).endswith(b"Hello, world!")
            start = time.monotonic()
            assert sock.recv(1000) == b""
            assert 0.2 < time.monotonic() - start < 2.0
        # head deadline despite dribbling
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            start = time.monotonic()
            try:
                for byte in b"GET /hello HTTP/1.1\r\nHost: x\r\n":
                    sock.sendall(bytes([byte]))
                    time.sleep(0.05)
            except OSError:
                pass
            data = sock.recv(1000)
            assert data.startswith(b"HTTP/1.1 408") or data == b""
            assert time.monotonic() - start < 2.5
        # body gap
        raw = exchange(srv.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        assert raw.startswith(b"HTTP/1.1 408")
        # limits
        assert exchange(srv.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n"
                        ).startswith(b"HTTP/1.1 413")
        chunked = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"64\r\n" + b"a" * 100 + b"\r\n1\r\nb\r\n0\r\n\r\n")
        assert exchange(srv.port, chunked).startswith(b"HTTP/1.1 413")
        assert exchange(srv.port, b"GET /" + b"a" * 70 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                        ).startswith(b"HTTP/1.1 414")
        assert exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 5 + b"\r\n"
                        ).startswith(b"HTTP/1.1 431")
        assert exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\nA: " + b"b" * 70 + b"\r\n\r\n"
                        ).startswith(b"HTTP/1.1 431")


def test_limit_concurrency_503():
    with run_server("--limit-concurrency", "1") as srv:
        slow = threading.Thread(target=lambda: httpx.get(srv.url + "/sleep?1", timeout=5))
        slow.start()
        time.sleep(0.3)
        assert httpx.get(srv.url + "/hello", timeout=5).status_code == 503
        slow.join()
        assert httpx.get(srv.url + "/hello", timeout=5).status_code == 200


def test_sigterm_lets_in_flight_request_finish(tmp_path):
    marker = tmp_path / "shutdown"
    with run_server(env={"FASTHTTPD_TEST_SHUTDOWN_MARKER": str(marker)}) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        result = {}

        def slow_request():
            result["response"] = httpx.get(srv.url + "/sleep?1", timeout=10)

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # No longer accepting; the idle connection was closed at once.
        assert idle.recv(10) == b""
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        thread.join(10)
        response = result["response"]
        assert response.status_code == 200 and response.text == "slept"
        assert response.headers["connection"] == "close"
        assert srv.proc.wait(10) == 0
        assert marker.read_text() == "shutdown"  # lifespan shutdown ran after
        idle.close()


def test_graceful_timeout_cancels_and_second_signal_forces():
    with run_server("--timeout-graceful-shutdown", "0.5") as srv:
        thread = threading.Thread(target=lambda: _swallow(httpx.get, srv.url + "/sleep?30"))
        thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(10) == 0
        assert time.monotonic() - start < 5
        thread.join(10)
    with run_server() as srv:
        thread = threading.Thread(target=lambda: _swallow(httpx.get, srv.url + "/sleep?30"))
        thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGINT)
        srv.proc.wait(10)
        assert time.monotonic() - start < 5
        thread.join(10)


def _swallow(fn, *args):
    try:
        fn(*args, timeout=40)
    except httpx.HTTPError:
        pass


# Issue 10: hardening.

@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_connection_that_sends_too_little_is_closed_at_the_head_deadline(impl):
    """Nothing, or too few bytes to tell HTTP/1.1 from the HTTP/2 preface."""
    with run_server("--timeout-request-header", "0.5", impl=impl) as srv:
        for data in (b"", b"P", b"PRI * HTTP/2.0\r\n"):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                start = time.monotonic()
                sock.sendall(data)
                assert sock.recv(1000) == b"", data
                assert 0.4 < time.monotonic() - start < 2.5, data


def test_nothing_after_a_closing_request_reaches_the_app(server):
    """RFC 9112 9.6: `/b` behind an HTTP/1.0 request without keep-alive never runs."""
    before = int(httpx.get(server.url + "/disconnects", timeout=5).text)
    raw = exchange(server.port, b"GET /hello HTTP/1.0\r\n\r\n"
                   b"GET /wait-disconnect HTTP/1.1\r\nHost: s\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and raw.endswith(b"Hello, world!")
    assert raw.count(b"HTTP/1.1") == 1
    time.sleep(0.2)  # /wait-disconnect would count a disconnect had it run
    assert int(httpx.get(server.url + "/disconnects", timeout=5).text) == before


def test_expect_100_continue_with_the_body_sent_at_once_keeps_the_connection(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                     b"Expect: 100-continue\r\n\r\nping")
        response = sock.recv(1000)
        assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(b"ping")
        assert b"connection: close" not in response.lower()
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1000).endswith(b"Hello, world!")


def test_request_body_slower_than_the_minimum_rate_gets_408(impl):
    with run_server("--timeout-request-body", "0.5", "--limit-request-body-rate", "1000",
                    impl=impl) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            start = time.monotonic()
            try:
                while time.monotonic() - start < 3:
                    sock.sendall(b"x" * 10)  # 100 bytes/s, a piece every 0.1 s
                    time.sleep(0.1)
            except OSError:
                pass
            assert sock.recv(1000).startswith(b"HTTP/1.1 408 ")
            assert time.monotonic() - start < 2.0
        assert "slower than 1000 bytes/s" in srv.log()


def test_client_leaving_a_starlette_stream_is_not_an_app_error():
    """Starlette turns send()'s OSError into ClientDisconnect and re-raises it once the
    client has gone: logged at debug, not counted, not reported to the master. An
    exception raised while the client is still there stays an error."""
    from tests.e2e.test_workers import run_pool, sample, wait_for

    with run_pool("--log-level", "debug", app="starlette_stream:app", workers=1) as pool:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", pool.port), timeout=5) as sock:
                sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
                assert b"data: 0" in sock.recv(1000)
        wait_for(lambda: pool.log().count("after its client had gone") >= 3, 5.0,
                 "the debug lines of the three streams the clients left")
        assert sample(pool.metrics(), "fasthttpd_app_errors_total") == 0
        assert "Exception in ASGI application" not in pool.log()
        assert "exception in the application" not in pool.log()
        with httpx.Client(base_url=pool.url, timeout=5) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.get("/broken")  # truncated: the stream broke while the client read
        wait_for(lambda: sample(pool.metrics(), "fasthttpd_app_errors_total") == 1, 5.0,
                 "the broken stream to count as an app error")
        wait_for(lambda: "Exception in ASGI application (GET /broken)" in pool.log(), 5.0,
                 "the worker's log of the broken stream")
        assert pool.stop() == 0
        # Logged once (by the worker), not a second time by the master.
        assert pool.log().count("RuntimeError: the stream breaks on purpose") == 1
