"""A worker process: one complete server on its own event loop, watched by the master.

Theory of operation: the master starts this module's `main()` in a fresh interpreter
(with the master's own fasthttpd first on sys.path, see master.WORKER_BOOTSTRAP),
rather than a fork (nothing of the master is copied: no event loop, no
half-initialised uvloop, no imported app), passing the listening sockets and the
write end of a pipe as inherited file descriptors. It writes the handshake on the
worker's stdin: the worker's copy of the settings (with its own request limit) and
the fd numbers. Settings travel on stdin rather than argv or the environment so that
secrets such as --ssl-keyfile-password do not show in `ps`.

The worker then runs `fasthttpd.server.Server` on those sockets (or, with
--reuse-port and no sockets passed, binds its own). Once listening it reports
`ready` and starts a heartbeat timer in its event loop: a blocked loop stops the
heartbeats, which is how the master notices it. Each heartbeat carries the metrics
counted since the previous one (fasthttpd.workers.metrics). SIGHUP, SIGTTIN and
SIGTTOU are for the master alone, so the worker ignores them. When the pipe breaks
or the parent changes, the master is gone and the worker shuts down gracefully
rather than serving unsupervised.

Retiring (SIGTERM or SIGINT, the request limit, a gone master) drains before the
server's graceful shutdown: the worker stops accepting, then for RETIRE_LINGER
seconds hands every connection that has a request in flight to `shutdown()` (the
response carries `Connection: close`). A connection accepted just before the
listener closed, or a keep-alive connection whose next request is already on the
wire, looks idle for a moment; closing it at once would fail a request the client
has already sent (the race of RFC 9112 9.6). Other workers keep accepting
meanwhile, so a reload or recycle loses no request. Then the server's shutdown
runs as usual. A second signal skips what is left of the linger; the master bounds
the rest with SIGKILL.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import traceback
from typing import Any

from fasthttpd.config import Config
from fasthttpd.workers.channel import PipeWriter
from fasthttpd.workers.metrics import WorkerMetrics

logger = logging.getLogger("fasthttpd.error")

# Exit code of a worker that could not start (bad app, bind failure).
STARTUP_FAILED = 3
# Seconds a retiring worker keeps draining before the server closes idle
# connections, and how often it looks for connections that became busy.
RETIRE_LINGER = 0.5
DRAIN_POLL = 0.01


class Worker:
    def __init__(self, config: Config, writer: PipeWriter) -> None:
        from fasthttpd.server import Server

        self.config = config
        self.writer = writer
        self.metrics = WorkerMetrics()
        self.server = Server(config, observer=self.metrics, on_ready=self._on_ready)
        self.parent_pid = os.getppid()
        self._master_gone = False
        self._retiring = False
        self._drained: set[Any] = set()  # connections already told to close

    def run(self, sockets: list[socket.socket] | None) -> int:
        try:
            code = self.server.run(sockets)
        except Exception as exc:  # the app failed to load, a bind failed...
            self.writer.send({"t": "fatal", "error": describe_failure(exc)})
            shown = getattr(exc, "traceback", None)  # an AppLoadError's: where the app failed
            logger.error("worker %d cannot start: %s%s", os.getpid(), describe_failure(exc),
                         "\n" + shown if shown else "")
            code = STARTUP_FAILED
        finally:
            # The last counts, so that a graceful exit loses no metrics.
            self.writer.send({"t": "hb", **self.metrics.take_delta()})
            self.writer.close()
        return code

    def _on_ready(self, server: Any) -> None:
        state = server.state
        loop = state.loop

        def report_request_limit() -> None:
            # Tell the master first, so that the replacement starts while this worker
            # still finishes its in-flight requests.
            self.writer.send({"t": "retiring", "reason": "max_requests"})
            self.retire()

        state.on_request_limit = report_request_limit
        # Replaces the server's handlers (installed before on_ready) to drain first.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal)
        from fasthttpd.log import running_fasthttpd

        self.writer.send({"t": "ready", "pid": os.getpid(), "fasthttpd": running_fasthttpd()})
        loop.call_later(self.config.worker_heartbeat_interval, self._heartbeat)

    def _on_stop_signal(self) -> None:
        if self._retiring:
            self.server.request_shutdown()  # second signal: no more lingering
        else:
            self.retire()

    def retire(self) -> None:
        """Stop accepting, drain for RETIRE_LINGER, then shut the server down."""
        if self._retiring:
            return
        self._retiring = True
        for listener in self.server.listeners:
            listener.close()
        loop = self.server.state.loop
        self._drain(loop.time() + RETIRE_LINGER)

    def _drain(self, deadline: float) -> None:
        state = self.server.state
        for connection in list(state.connections):
            if connection.client.pending_response_count and connection not in self._drained:
                self._drained.add(connection)
                connection.shutdown()
        if not state.connections or state.loop.time() >= deadline:
            self._drained.clear()
            self.server.request_shutdown()
            return
        state.loop.call_later(DRAIN_POLL, self._drain, deadline)

    def _heartbeat(self) -> None:
        if self.writer.broken or os.getppid() != self.parent_pid:
            if not self._master_gone:
                self._master_gone = True
                logger.warning("worker %d: the master is gone; shutting down", os.getpid())
                self.retire()
        else:
            self.writer.send({"t": "hb", **self.metrics.take_delta()})
        self.server.state.loop.call_later(self.config.worker_heartbeat_interval,
                                          self._heartbeat)


def describe_failure(exc: BaseException) -> str:
    """One line for the errors that explain themselves, a traceback for the others."""
    from fasthttpd.importer import AppLoadError
    from fasthttpd.sockets import BindError

    if isinstance(exc, (AppLoadError, BindError)):
        return str(exc)
    return "".join(traceback.format_exception(exc)).rstrip()


def read_handshake() -> dict[str, Any]:
    handshake = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    if not isinstance(handshake, dict):
        raise ValueError("bad handshake")
    return handshake


def main() -> int:
    handshake = read_handshake()
    # The master's signals: a terminal's SIGHUP or job-control signals must not stop
    # or kill a worker behind the master's back.
    for sig in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_IGN)
    config = Config(**handshake["config"])
    writer = PipeWriter(int(handshake["control_fd"]))
    sockets = [socket.socket(fileno=int(fd)) for fd in handshake.get("listen_fds", ())]
    for sock in sockets:
        sock.setblocking(False)
    return Worker(config, writer).run(sockets or None)


if __name__ == "__main__":
    sys.exit(main())
