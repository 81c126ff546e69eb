"""A worker process: one complete server on its own event loop, watched by the master.

Theory of operation: the master starts `python -m fasthttpd.workers.worker`, a fresh
interpreter rather than a fork (nothing of the master is copied: no event loop, no
half-initialised uvloop, no imported app), passing the listening sockets and the
write end of a pipe as inherited file descriptors. It writes the handshake on the
worker's stdin: the worker's copy of the settings (with its own request limit) and
the fd numbers. Settings travel on stdin rather than argv or the environment so that
secrets such as --ssl-keyfile-password do not show in `ps`.

The worker then runs `fasthttpd.server.Server` on those sockets (or, with
--reuse-port and no sockets passed, binds its own). Once listening it reports
`ready` and starts a heartbeat timer in its event loop: a blocked loop stops the
heartbeats, which is how the master notices it. Each heartbeat carries the metrics
counted since the previous one (fasthttpd.workers.metrics). SIGTERM and SIGINT are
the server's: a graceful shutdown. SIGHUP, SIGTTIN and SIGTTOU are for the master
alone, so the worker ignores them. When the pipe breaks or the parent changes, the
master is gone and the worker shuts down gracefully rather than serving unsupervised.
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


class Worker:
    def __init__(self, config: Config, writer: PipeWriter) -> None:
        from fasthttpd.server import Server

        self.config = config
        self.writer = writer
        self.metrics = WorkerMetrics(on_app_error=writer.send)
        self.server = Server(config, observer=self.metrics, on_ready=self._on_ready)
        self.parent_pid = os.getppid()
        self._master_gone = False

    def run(self, sockets: list[socket.socket] | None) -> int:
        try:
            code = self.server.run(sockets)
        except Exception as exc:  # the app failed to load, a bind failed...
            self.writer.send({"t": "fatal", "error": describe_failure(exc)})
            logger.error("worker %d cannot start: %s", os.getpid(), describe_failure(exc))
            code = STARTUP_FAILED
        finally:
            # The last counts, so that a graceful exit loses no metrics.
            self.writer.send({"t": "hb", **self.metrics.take_delta()})
            self.writer.close()
        return code

    def _on_ready(self, server: Any) -> None:
        state = server.state
        stop_at_limit = state.on_request_limit

        def report_request_limit() -> None:
            # Tell the master first, so that the replacement starts while this worker
            # still finishes its in-flight requests.
            self.writer.send({"t": "retiring", "reason": "max_requests"})
            if stop_at_limit is not None:
                stop_at_limit()

        state.on_request_limit = report_request_limit
        self.writer.send({"t": "ready", "pid": os.getpid()})
        state.loop.call_later(self.config.worker_heartbeat_interval, self._heartbeat)

    def _heartbeat(self) -> None:
        if self.writer.broken or os.getppid() != self.parent_pid:
            if not self._master_gone:
                self._master_gone = True
                logger.warning("worker %d: the master is gone; shutting down", os.getpid())
                self.server.request_shutdown()
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
