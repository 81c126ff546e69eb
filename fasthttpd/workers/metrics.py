"""Request metrics: counted in each worker, summed in the master, shown to Prometheus.

Theory of operation: each worker installs a `WorkerMetrics` as its server's
RequestObserver. Its per-request method does a dict increment, a bisect and two
additions: no lock, no I/O, no timer (the worker is single-threaded). Once per
heartbeat the worker calls `take_delta()`, which returns what was counted since the
previous call and starts over, and sends it to the master over the heartbeat pipe.
The master adds the deltas into one `PoolMetrics`, so counters stay monotonic when
workers come and go (a worker killed with SIGKILL loses at most one interval).
`render_prometheus` writes the text exposition format (version 0.0.4).
"""

from __future__ import annotations

import bisect
from typing import Any

from fasthttpd.state import RequestObserver

# Upper bounds (seconds) of the latency histogram's buckets: Prometheus client's
# defaults with finer steps below 5 ms, where a fast server's requests fall.
LATENCY_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WorkerMetrics(RequestObserver):
    """Counts one worker's traffic between two heartbeats.

    App exceptions are only counted here: the worker's own error log has each one with
    its traceback, and the master relays that log, so the master does not log them
    again (each traceback appears once).
    """

    def __init__(self) -> None:
        self.open_connections = 0  # a gauge: sent as is, never reset
        self.open_websockets = 0  # a gauge too
        self._ws_reported = False
        self._ws_in = 0
        self._ws_out = 0
        self._requests: dict[tuple[str, int], int] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self._duration_sum = 0.0
        self._app_errors = 0

    def request_finished(self, http_version: str, status: int, duration: float) -> None:
        key = (http_version, status // 100)
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        # bisect_left: a duration equal to a bound belongs to that bucket (le = "<=").
        self._buckets[bisect.bisect_left(LATENCY_BUCKETS, duration)] += 1
        self._duration_sum += duration

    def connection_opened(self) -> None:
        self.open_connections += 1

    def connection_closed(self) -> None:
        self.open_connections -= 1

    def websocket_opened(self) -> None:
        self.open_websockets += 1

    def websocket_closed(self) -> None:
        self.open_websockets -= 1

    def websocket_messages(self, received: int, sent: int) -> None:
        self._ws_in += received
        self._ws_out += sent

    def app_error(self, exc: BaseException, method: str, path: str) -> None:
        self._app_errors += 1

    def take_delta(self) -> dict[str, Any]:
        """What was counted since the last call, as JSON-ready data; counting restarts."""
        delta: dict[str, Any] = {"conn": self.open_connections}
        if self.open_websockets or self._ws_reported:  # a gauge, sent until it is back to 0
            delta["ws"] = self.open_websockets
            self._ws_reported = self.open_websockets != 0
        if self._ws_in or self._ws_out:
            delta["ws_msg"] = [self._ws_in, self._ws_out]
            self._ws_in = self._ws_out = 0
        if self._requests:
            delta["req"] = [[version, cls, n] for (version, cls), n in self._requests.items()]
            delta["lat"] = self._buckets
            delta["lat_sum"] = self._duration_sum
            self._requests = {}
            self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
            self._duration_sum = 0.0
        if self._app_errors:
            delta["err"] = self._app_errors
            self._app_errors = 0
        return delta


class PoolMetrics:
    """The master's sum of every worker's deltas."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}  # (protocol, "2xx") -> count
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.app_errors = 0
        self._open_connections: dict[int, int] = {}  # worker id -> last reported gauge
        self._open_websockets: dict[int, int] = {}
        self.websocket_messages_in = 0
        self.websocket_messages_out = 0

    def add(self, worker_id: int, delta: dict[str, Any]) -> None:
        """Merge one heartbeat's delta; malformed parts are ignored, not fatal."""
        conn = delta.get("conn")
        if isinstance(conn, int):
            self._open_connections[worker_id] = conn
        websockets = delta.get("ws")
        if isinstance(websockets, int):
            self._open_websockets[worker_id] = websockets
        messages = delta.get("ws_msg")
        if isinstance(messages, list) and len(messages) == 2:
            self.websocket_messages_in += int(messages[0])
            self.websocket_messages_out += int(messages[1])
        for version, cls, count in delta.get("req", ()):
            key = (str(version), f"{int(cls)}xx")
            self.requests[key] = self.requests.get(key, 0) + int(count)
        buckets = delta.get("lat")
        if isinstance(buckets, list) and len(buckets) == len(self.buckets):
            for i, count in enumerate(buckets):
                self.buckets[i] += int(count)
            self.duration_sum += float(delta.get("lat_sum", 0.0))
        self.app_errors += int(delta.get("err", 0))

    def forget(self, worker_id: int) -> None:
        """A worker exited: its connections are gone with it."""
        self._open_connections.pop(worker_id, None)
        self._open_websockets.pop(worker_id, None)

    @property
    def open_connections(self) -> int:
        return sum(self._open_connections.values())

    @property
    def open_websockets(self) -> int:
        return sum(self._open_websockets.values())


def render_prometheus(metrics: PoolMetrics, restarts: dict[str, int], workers_alive: int,
                      workers_desired: int, restart_reasons: tuple[str, ...] = (),
                      workers_ready: int | None = None) -> str:
    lines: list[str] = []

    def header(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    header("fasthttpd_requests_total", "counter",
           "Responses finished, by protocol version and status class.")
    for (version, cls), count in sorted(metrics.requests.items()):
        lines.append(f'fasthttpd_requests_total{{protocol="{version}",status_class="{cls}"}} '
                     f"{count}")

    header("fasthttpd_request_duration_seconds", "histogram",
           "Time from the complete request head to the end of the response.")
    cumulative = 0
    for bound, count in zip(LATENCY_BUCKETS, metrics.buckets[:-1], strict=True):
        cumulative += count
        lines.append(f'fasthttpd_request_duration_seconds_bucket{{le="{bound!r}"}} '
                     f"{cumulative}")
    cumulative += metrics.buckets[-1]
    lines.append(f'fasthttpd_request_duration_seconds_bucket{{le="+Inf"}} {cumulative}')
    lines.append(f"fasthttpd_request_duration_seconds_sum {metrics.duration_sum!r}")
    lines.append(f"fasthttpd_request_duration_seconds_count {cumulative}")

    header("fasthttpd_open_connections", "gauge", "Client connections open in all workers.")
    lines.append(f"fasthttpd_open_connections {metrics.open_connections}")

    header("fasthttpd_open_websockets", "gauge", "WebSocket sessions open in all workers.")
    lines.append(f"fasthttpd_open_websockets {metrics.open_websockets}")

    header("fasthttpd_websocket_messages_total", "counter",
           "WebSocket messages, by direction (in: from clients, out: to clients).")
    lines.append(f'fasthttpd_websocket_messages_total{{direction="in"}} '
                 f"{metrics.websocket_messages_in}")
    lines.append(f'fasthttpd_websocket_messages_total{{direction="out"}} '
                 f"{metrics.websocket_messages_out}")

    header("fasthttpd_app_errors_total", "counter", "Exceptions raised by the application.")
    lines.append(f"fasthttpd_app_errors_total {metrics.app_errors}")

    header("fasthttpd_worker_restarts_total", "counter",
           "Workers replaced, by reason (crash, heartbeat, startup_timeout, max_requests, "
           "max_rss, ttl, reload).")
    for reason in sorted(set(restart_reasons) | set(restarts)):
        lines.append(f'fasthttpd_worker_restarts_total{{reason="{reason}"}} '
                     f"{restarts.get(reason, 0)}")

    header("fasthttpd_workers_alive", "gauge", "Worker processes running.")
    lines.append(f"fasthttpd_workers_alive {workers_alive}")
    if workers_ready is not None:
        header("fasthttpd_workers_ready", "gauge", "Workers accepting connections.")
        lines.append(f"fasthttpd_workers_ready {workers_ready}")
    header("fasthttpd_workers_desired", "gauge", "Worker processes the pool keeps.")
    lines.append(f"fasthttpd_workers_desired {workers_desired}")
    return "\n".join(lines) + "\n"
