"""Worker-side counting, master-side sums, the Prometheus text, the pipe format,
systemd's variables and the admin pages' answers."""

from __future__ import annotations

import asyncio
import os
import re

import pytest

from fasthttpd.workers import activation
from fasthttpd.workers.admin import TEXT_TYPE, AdminEndpoints, respond, start_admin
from fasthttpd.workers.channel import MAX_LINE, LineDecoder, PipeWriter, encode
from fasthttpd.workers.metrics import (
    LATENCY_BUCKETS,
    PoolMetrics,
    WorkerMetrics,
    render_prometheus,
)


def sample_value(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus text, e.g. name{a="b"} 3."""
    pattern = "^" + re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, f"{name}{{{labels}}} not in:\n{text}"
    return float(match.group(1))


def test_worker_counts_by_protocol_and_status_class() -> None:
    metrics = WorkerMetrics()
    for status in (200, 204, 404, 500):
        metrics.request_finished("1.1", status, 0.002)
    metrics.request_finished("2", 200, 0.2)
    delta = metrics.take_delta()
    assert sorted(map(tuple, delta["req"])) == [("1.1", 2, 2), ("1.1", 4, 1), ("1.1", 5, 1),
                                                 ("2", 2, 1)]
    assert sum(delta["lat"]) == 5
    assert delta["lat_sum"] == pytest.approx(0.208)
    # Counting starts over; an idle interval sends only the gauge.
    assert metrics.take_delta() == {"conn": 0}


def test_latency_on_a_bucket_bound_belongs_to_that_bucket() -> None:
    metrics = WorkerMetrics()
    metrics.request_finished("1.1", 200, LATENCY_BUCKETS[0])
    metrics.request_finished("1.1", 200, 99.0)  # beyond the last bound: +Inf
    buckets = metrics.take_delta()["lat"]
    assert buckets[0] == 1 and buckets[-1] == 1


def test_open_connections_is_a_gauge_not_reset() -> None:
    metrics = WorkerMetrics()
    metrics.connection_opened()
    metrics.connection_opened()
    metrics.connection_closed()
    assert metrics.take_delta()["conn"] == 1
    assert metrics.take_delta()["conn"] == 1


def test_app_errors_are_counted_per_interval() -> None:
    metrics = WorkerMetrics()
    error = ValueError("boom")
    for _ in range(15):
        metrics.app_error(error, "POST", "/orders")
    assert metrics.take_delta()["err"] == 15
    assert "err" not in metrics.take_delta()  # counting starts over


def test_master_sums_deltas_and_renders_prometheus_text() -> None:
    one, two = WorkerMetrics(), WorkerMetrics()
    for _ in range(3):
        one.request_finished("1.1", 200, 0.003)
    two.request_finished("1.1", 503, 0.7)
    two.request_finished("2", 201, 0.003)
    one.connection_opened()
    two.connection_opened()
    two.connection_opened()
    pool = PoolMetrics()
    pool.add(1, one.take_delta())
    pool.add(2, two.take_delta())
    one.request_finished("1.1", 200, 0.003)
    pool.add(1, one.take_delta())
    text = render_prometheus(pool, {"crash": 2}, workers_alive=2, workers_desired=2,
                             restart_reasons=("crash", "reload"))
    assert sample_value(text, "fasthttpd_requests_total",
                        'protocol="1.1",status_class="2xx"') == 4
    assert sample_value(text, "fasthttpd_requests_total",
                        'protocol="1.1",status_class="5xx"') == 1
    assert sample_value(text, "fasthttpd_requests_total",
                        'protocol="2",status_class="2xx"') == 1
    assert sample_value(text, "fasthttpd_request_duration_seconds_count") == 6
    assert sample_value(text, "fasthttpd_request_duration_seconds_bucket", 'le="0.005"') == 5
    assert sample_value(text, "fasthttpd_request_duration_seconds_bucket", 'le="+Inf"') == 6
    assert sample_value(text, "fasthttpd_request_duration_seconds_sum") == pytest.approx(0.715)
    assert sample_value(text, "fasthttpd_open_connections") == 3
    assert sample_value(text, "fasthttpd_worker_restarts_total", 'reason="crash"') == 2
    assert sample_value(text, "fasthttpd_worker_restarts_total", 'reason="reload"') == 0
    assert sample_value(text, "fasthttpd_workers_alive") == 2
    assert "# TYPE fasthttpd_request_duration_seconds histogram" in text
    # Buckets are cumulative, so never decreasing.
    counts = [float(v) for v in re.findall(r'_bucket\{le="[^"]+"\} (\S+)', text)]
    assert counts == sorted(counts)
    # A worker that exits takes its connections with it.
    pool.forget(2)
    assert pool.open_connections == 1


def test_pipe_round_trip_in_any_chunking() -> None:
    messages = [{"t": "ready", "pid": 7}, {"t": "hb", "conn": 3},
                {"t": "fatal", "error": "line one\nline two ✓"}]
    data = b"".join(encode(m) for m in messages)
    for size in (1, 3, len(data)):
        decoder = LineDecoder()
        got = []
        for i in range(0, len(data), size):
            got.extend(decoder.feed(data[i:i + size]))
        assert got == messages


def test_decoder_drops_garbage_and_overlong_lines() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"not json\n[1]\n{\"no_type\": 1}\n") == []
    assert decoder.feed(b"x" * (MAX_LINE + 10)) == []
    assert decoder.feed(b"still the long line\n" + encode({"t": "hb"})) == [{"t": "hb"}]


def test_pipe_writer_reports_a_gone_reader_without_raising() -> None:
    read_fd, write_fd = os.pipe()
    writer = PipeWriter(write_fd)
    writer.send({"t": "hb"})
    assert os.read(read_fd, 100) == b'{"t":"hb"}\n'
    os.close(read_fd)
    writer.send({"t": "hb"})
    assert writer.broken
    writer.close()


def test_pipe_writer_keeps_what_a_full_pipe_cannot_take() -> None:
    read_fd, write_fd = os.pipe()
    writer = PipeWriter(write_fd)
    big = {"t": "fatal", "error": "x" * 50_000}
    for _ in range(5):  # more than a pipe's 64 KiB: must not block
        writer.send(big)
    decoder = LineDecoder()
    got: list[dict] = []
    os.set_blocking(read_fd, False)
    while len(got) < 5:
        try:
            got.extend(decoder.feed(os.read(read_fd, 65536)))
        except BlockingIOError:
            writer.flush()
    assert got == [big] * 5
    writer.close()
    os.close(read_fd)


def test_systemd_variables_count_only_for_their_pid() -> None:
    environ = {"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "http:https"}
    assert activation.listen_fds(environ, 42) == [3, 4]
    assert activation.listen_fds(environ, 43) == []
    assert activation.listen_fds({"LISTEN_PID": "42", "LISTEN_FDS": "x"}, 42) == []
    assert activation.listen_fds({}, 42) == []
    activation.forget(environ)
    assert environ == {}


def endpoints(ready: bool) -> AdminEndpoints:
    return AdminEndpoints(is_ready=lambda: ready, ready_detail=lambda: "1/2 workers ready",
                          metrics_text=lambda: "fasthttpd_workers_alive 1\n")


def test_admin_answers() -> None:
    assert respond(endpoints(True), "GET", "/health")[0] == 200
    assert respond(endpoints(False), "GET", "/health") == (200, TEXT_TYPE,
                                                           b"ok: 1/2 workers ready\n")
    assert respond(endpoints(True), "GET", "/ready")[0] == 200
    status, _, body = respond(endpoints(False), "GET", "/ready")
    assert (status, body) == (503, b"1/2 workers ready\n")
    status, content_type, body = respond(endpoints(True), "GET", "/metrics?x=1")
    assert status == 200 and content_type.startswith(b"text/plain; version=0.0.4")
    assert body == b"fasthttpd_workers_alive 1\n"
    assert respond(endpoints(True), "POST", "/metrics")[0] == 405
    assert respond(endpoints(True), "GET", "/")[0] == 404


def test_admin_listener_speaks_http() -> None:
    async def exchange(request: bytes) -> bytes:
        server = await start_admin(endpoints(False), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            response = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            return response
        finally:
            server.close()

    response = asyncio.run(exchange(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert response.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Content-Length: 18\r\n" in response and response.endswith(b"1/2 workers ready\n")
    response = asyncio.run(exchange(b"nonsense\r\n\r\n"))
    assert response.startswith(b"HTTP/1.1 400 ")
