"""The master process: owns the listening sockets and the worker processes.

Theory of operation: the master binds the listening sockets once (or takes them
from systemd or --fd) and starts each worker as a fresh interpreter
(fasthttpd.workers.worker) that inherits them; with --reuse-port the workers bind
their own SO_REUSEPORT sockets instead. It never accepts a connection itself.

Its asyncio loop does four things:
- reads each worker's pipe (ready, heartbeats with metrics and app error counts)
  and relays the worker's stderr (its logs) to its own, keeping the last lines to
  explain a crash;
- every tick (and at once on SIGCHLD or a message that matters) collects exited
  workers, samples memory, asks the pool (fasthttpd.workers.pool, which makes
  every decision) what to do, and does it: spawn, SIGTERM, SIGKILL;
- turns signals into pool events: SIGTERM/SIGINT stop, SIGHUP reload,
  SIGTTIN/SIGTTOU add or remove a worker; with --reload, file changes reload too;
- serves the admin endpoints when --admin-port is set.
Workers run in their own process group, so a Ctrl-C in a terminal reaches only
the master, which then stops the workers once, gracefully.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import fasthttpd
from fasthttpd.config import Config
from fasthttpd.log import log_how_to_stop
from fasthttpd.workers import activation
from fasthttpd.workers.admin import AdminEndpoints, start_admin
from fasthttpd.workers.channel import LineDecoder
from fasthttpd.workers.metrics import PoolMetrics, render_prometheus
from fasthttpd.workers.pool import (
    CRASH,
    HEARTBEAT,
    MAX_REQUESTS,
    MAX_RSS,
    RELOAD,
    RETIRE_MARGIN,
    STARTUP_TIMEOUT,
    TTL,
    Kill,
    PoolSettings,
    Spawn,
    Terminate,
    WorkerPool,
    WorkerRecord,
)

logger = logging.getLogger("fasthttpd.error")

# Longest sleep between two looks at the pool; signals and messages that need a
# reaction wake the loop earlier.
TICK = 0.25
# How often worker memory is sampled for --worker-max-rss.
MEMORY_POLL = 1.0
# Lines of a worker's stderr kept to explain its death.
STDERR_TAIL = 20
RESTART_REASONS = (CRASH, HEARTBEAT, STARTUP_TIMEOUT, MAX_REQUESTS, MAX_RSS, TTL, RELOAD)


@dataclass(eq=False)
class WorkerProcess:
    record: WorkerRecord
    popen: subprocess.Popen[bytes]
    control_fd: int
    stderr_fd: int
    decoder: LineDecoder = field(default_factory=LineDecoder)
    stderr_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_TAIL))
    stderr_partial: bytes = b""
    fatal: str | None = None  # the error the worker reported before dying


def pool_settings(config: Config) -> PoolSettings:
    return PoolSettings(
        desired=config.workers,
        heartbeat_timeout=config.worker_heartbeat_timeout,
        startup_timeout=config.worker_startup_timeout,
        crash_window=config.worker_crash_window,
        crash_limit=config.worker_crash_limit,
        retire_grace=config.timeout_graceful_shutdown + RETIRE_MARGIN,
        ttl=config.worker_ttl,
        max_rss_bytes=config.worker_max_rss * 1024 * 1024,
        # While developing, a syntax error should wait for the fix, not end the server.
        pause_on_crash_loop=config.reload,
    )


def validate_worker_settings(config: Config) -> None:
    for name in ("worker_heartbeat_interval", "worker_heartbeat_timeout",
                 "worker_startup_timeout", "worker_crash_window"):
        if getattr(config, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')}: must be positive")
    if config.worker_ttl < 0:
        raise ValueError("--worker-ttl: must be 0 or more")
    if config.worker_crash_limit < 1:
        raise ValueError("--worker-crash-limit: must be at least 1")
    if config.worker_heartbeat_timeout <= config.worker_heartbeat_interval:
        raise ValueError("--worker-heartbeat-timeout must be longer than "
                         "--worker-heartbeat-interval")


class Master:
    def __init__(self, config: Config) -> None:
        validate_worker_settings(config)
        self.config = config
        self.pool = WorkerPool(pool_settings(config))
        self.metrics = PoolMetrics()
        self.processes: dict[int, WorkerProcess] = {}  # by WorkerRecord.id
        self.sockets: list[socket.socket] = []
        self.worker_port = config.port  # with --reuse-port and port 0: the port picked
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop_signals = 0
        self._crash_loop_reported = False
        self._next_memory_poll = 0.0
        self._worker_env = worker_environment()

    # -- entry point ----------------------------------------------------------

    def run(self) -> int:
        from fasthttpd.log import configure_logging

        configure_logging(self.config)
        self.sockets = self._listening_sockets()
        try:
            return asyncio.run(self._main())
        finally:
            for sock in self.sockets:
                sock.close()

    def _listening_sockets(self) -> list[socket.socket]:
        """The shared sockets; [] when each worker binds its own (--reuse-port)."""
        from fasthttpd.sockets import bind_sockets

        config = self.config
        activated = activation.activated_sockets()
        if activated:
            return activated
        if config.reuse_port and config.fd is None and not config.uds:
            if config.port == 0:
                # Every worker must bind the same port: pick one now.
                probe = bind_sockets(config)
                self.worker_port = probe[0].getsockname()[1]
                for sock in probe:
                    sock.close()
            return []
        return bind_sockets(config)

    async def _main(self) -> int:
        loop = self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._install_signal_handlers(loop)
        admin = await self._start_admin()
        reloader = self._start_reloader()
        self._log_start()
        try:
            while not self.pool.finished:
                self._step(time.monotonic())
                try:
                    await asyncio.wait_for(self._wake.wait(), TICK)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            if reloader is not None:
                reloader.cancel()
            if admin is not None:
                admin.close()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTTIN,
                        signal.SIGTTOU, signal.SIGCHLD):
                loop.remove_signal_handler(sig)
        if self.pool.crash_looped:
            return 1
        logger.info("master %d: all workers stopped", os.getpid())
        return 0

    def _step(self, now: float) -> None:
        self._collect_exits(now)
        self._poll_memory(now)
        actions = self.pool.tick(now)
        self._report_crash_loop()
        for action in actions:
            if isinstance(action, Spawn):
                self._spawn(action.worker, now)
            elif isinstance(action, Terminate):
                self._signal(action.worker, signal.SIGTERM, action.reason)
            elif isinstance(action, Kill):
                self._signal(action.worker, signal.SIGKILL, action.reason)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- starting and stopping workers ----------------------------------------

    def worker_config(self) -> Config:
        config = self.config
        limit = config.limit_max_requests
        if limit and config.limit_max_requests_jitter:
            limit += random.randint(0, config.limit_max_requests_jitter)
        from fasthttpd.log import is_terminal

        # A worker's stderr is a pipe to the master: colors follow the master's terminal.
        colors = config.use_colors if config.use_colors is not None else is_terminal(sys.stderr)
        return dataclasses.replace(config, workers=1, reload=False, admin_port=None,
                                   limit_max_requests=limit, port=self.worker_port,
                                   fd=None if self.sockets else config.fd, use_colors=colors,
                                   env_file=None)

    def _spawn(self, record: WorkerRecord, now: float) -> None:
        try:
            process = self._launch(record)
        except OSError as exc:
            logger.error("cannot start a worker: %s", exc)
            self.pool.exited(record, now, f"cannot start: {exc}")
            return
        self.processes[record.id] = process
        self.pool.started(record, process.popen.pid)
        logger.info("worker %d starting (generation %d)", process.popen.pid, record.generation)

    def _launch(self, record: WorkerRecord) -> WorkerProcess:
        listen_fds = [sock.fileno() for sock in self.sockets]
        read_fd, write_fd = os.pipe()  # not inheritable (PEP 446) except through pass_fds
        handshake = {"config": dataclasses.asdict(self.worker_config()),
                     "control_fd": write_fd, "listen_fds": listen_fds, "worker_id": record.id}
        try:
            popen = subprocess.Popen(
                worker_command(),
                stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(write_fd, *listen_fds), env=self._worker_env, process_group=0)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        assert popen.stdin is not None and popen.stderr is not None
        try:
            popen.stdin.write(json.dumps(handshake).encode())
            popen.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; collecting the exit will tell why
        process = WorkerProcess(record, popen, read_fd, popen.stderr.fileno())
        os.set_blocking(read_fd, False)
        os.set_blocking(process.stderr_fd, False)
        assert self._loop is not None
        self._loop.add_reader(read_fd, self._read_control, process)
        self._loop.add_reader(process.stderr_fd, self._read_stderr, process)
        return process

    def _signal(self, record: WorkerRecord, sig: signal.Signals, reason: str) -> None:
        if record.pid is None:
            return
        if sig == signal.SIGKILL:
            logger.warning("worker %d did not stop in time (%s): killing it", record.pid,
                           reason)
        else:
            logger.info("worker %d: stopping (%s)", record.pid, reason.replace("_", " "))
        try:
            os.kill(record.pid, sig)
        except ProcessLookupError:
            pass  # already gone; the exit is collected next

    def _collect_exits(self, now: float) -> None:
        for process in list(self.processes.values()):
            returncode = process.popen.poll()
            if returncode is None:
                continue
            self._close_pipes(process)
            del self.processes[process.record.id]
            self.metrics.forget(process.record.id)
            self._worker_exited(process, returncode, now)

    def _worker_exited(self, process: WorkerProcess, returncode: int, now: float) -> None:
        record = process.record
        cause = exit_cause(returncode, process.fatal)
        crashed = self.pool.exited(record, now, cause + tail_text(process))
        if not crashed:
            logger.info("worker %d exited (%s, %s)", process.popen.pid,
                        (record.retire_reason or "").replace("_", " "), cause)
            return
        uptime = now - record.started_at
        logger.error("worker %d died after %.1fs: %s", process.popen.pid, uptime, cause)

    def _report_crash_loop(self) -> None:
        """Log a crash loop once, when the pool detects it."""
        pool = self.pool
        detected = pool.crash_looped or pool.paused
        if detected and not self._crash_loop_reported:
            what = "waiting for a code change" if pool.paused else "stopping"
            logger.critical("crash loop: %d workers in a row died within %gs of starting; "
                            "%s. Last cause: %s", pool.consecutive_crashes,
                            pool.settings.crash_window, what, pool.last_crash_cause)
        self._crash_loop_reported = detected

    def _close_pipes(self, process: WorkerProcess) -> None:
        """Read what the dead worker left in its pipes, then close them."""
        assert self._loop is not None
        self._read_control(process)
        self._read_stderr(process)
        if process.stderr_partial:
            self._keep_stderr_line(process, process.stderr_partial)
            process.stderr_partial = b""
        for fd in (process.control_fd, process.stderr_fd):
            self._loop.remove_reader(fd)
        os.close(process.control_fd)
        assert process.popen.stderr is not None
        process.popen.stderr.close()

    # -- reading the workers --------------------------------------------------

    def _read_control(self, process: WorkerProcess) -> None:
        data = read_available(process.control_fd)
        if data is None:  # EOF: the worker exited (or is about to)
            assert self._loop is not None
            self._loop.remove_reader(process.control_fd)
            self.wake()
            return
        now = time.monotonic()
        for message in process.decoder.feed(data):
            self._handle_message(process, message, now)

    def _handle_message(self, process: WorkerProcess, message: dict[str, Any],
                        now: float) -> None:
        record = process.record
        kind = message["t"]
        self.pool.heard_from(record, now)
        if kind == "hb":
            self.metrics.add(record.id, message)
        elif kind == "ready":
            self.pool.ready(record, now)
            check_same_fasthttpd(message)
            logger.info("worker %d ready", process.popen.pid)
            self.wake()
        elif kind == "retiring":
            self.pool.stopping_by_itself(record, str(message.get("reason", MAX_REQUESTS)), now)
            logger.info("worker %d reached its request limit: replacing it",
                        process.popen.pid)
            self.wake()
        elif kind == "fatal":
            process.fatal = str(message.get("error"))

    def _read_stderr(self, process: WorkerProcess) -> None:
        data = read_available(process.stderr_fd)
        if data is None:
            assert self._loop is not None
            self._loop.remove_reader(process.stderr_fd)
            return
        if not data:
            return
        relay_to_stderr(data)
        lines = (process.stderr_partial + data).split(b"\n")
        process.stderr_partial = lines.pop()[-4096:]
        for line in lines:
            self._keep_stderr_line(process, line)

    @staticmethod
    def _keep_stderr_line(process: WorkerProcess, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip()
        if text:
            process.stderr_tail.append(text[:1000])

    def _poll_memory(self, now: float) -> None:
        if not self.pool.settings.max_rss_bytes or now < self._next_memory_poll:
            return
        self._next_memory_poll = now + MEMORY_POLL
        for process in self.processes.values():
            rss = resident_memory(process.popen.pid)
            if rss is not None:
                self.pool.memory_used(process.record, rss)

    # -- signals --------------------------------------------------------------

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self._on_stop_signal, signal.SIGTERM)
        loop.add_signal_handler(signal.SIGINT, self._on_stop_signal, signal.SIGINT)
        loop.add_signal_handler(signal.SIGHUP, self.reload, "SIGHUP")
        loop.add_signal_handler(signal.SIGTTIN, self.scale, 1)
        loop.add_signal_handler(signal.SIGTTOU, self.scale, -1)
        loop.add_signal_handler(signal.SIGCHLD, self.wake)

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        self._stop_signals += 1
        if self._stop_signals == 1:
            logger.info("%s received: stopping the workers gracefully", sig.name)
        else:
            logger.warning("%s received again: forcing the workers to stop", sig.name)
        self.pool.shutdown(time.monotonic())
        self.wake()

    def reload(self, why: str) -> None:
        if self.pool.stopping:
            return
        logger.info("%s: starting new workers; the old ones retire once they are ready", why)
        self.pool.reload()
        self.wake()

    def scale(self, delta: int) -> None:
        if self.pool.stopping:
            return
        self.pool.scale(delta)
        logger.info("workers: now %d", self.pool.settings.desired)
        self.wake()

    # -- admin and reload -----------------------------------------------------

    async def _start_admin(self) -> asyncio.Server | None:
        config = self.config
        if config.admin_port is None:
            return None
        endpoints = AdminEndpoints(is_ready=lambda: self.pool.is_ready,
                                   ready_detail=self.ready_detail,
                                   metrics_text=self.metrics_text)
        try:
            server = await start_admin(endpoints, config.admin_host, config.admin_port)
        except OSError as exc:
            from fasthttpd.sockets import BindError

            raise BindError(f"--admin-port: cannot listen on {config.admin_host}:"
                            f"{config.admin_port}: {exc.strerror or exc}", exc.errno) from None
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            logger.info("admin endpoints on http://%s:%d (/health /ready /metrics)", host, port)
        return server

    def ready_detail(self) -> str:
        return f"{len(self.pool.serving())}/{self.pool.settings.desired} workers ready"

    def metrics_text(self) -> str:
        return render_prometheus(self.metrics, self.pool.restarts, len(self.processes),
                                 self.pool.settings.desired, RESTART_REASONS,
                                 workers_ready=len(self.pool.serving()))

    def _start_reloader(self) -> asyncio.Task[None] | None:
        if not self.config.reload:
            return None
        from fasthttpd.workers.reloader import watch

        config = self.config
        directories = [os.path.abspath(d) for d in config.reload_dir or (config.app_dir,)]
        return asyncio.get_running_loop().create_task(
            watch(directories, self.reload, includes=config.reload_include,
                  excludes=config.reload_exclude, delay=config.reload_delay))

    def _log_start(self) -> None:
        from fasthttpd.log import log_startup
        from fasthttpd.sockets import describe

        scheme = "https" if self.config.is_tls else "http"
        where = ", ".join(describe(sock, scheme) for sock in self.sockets) or \
            f"{self.config.host}:{self.worker_port} (SO_REUSEPORT in each worker)"
        log_startup(self.config)
        logger.info("master %d: %d worker(s) serving %s", os.getpid(), self.config.workers,
                    where)
        log_how_to_stop()


# -- helpers ------------------------------------------------------------------

# The worker's entry point. `python -m fasthttpd.workers.worker` would put the working
# directory first on sys.path, so a fasthttpd source tree there (a checkout, without
# its compiled modules) would shadow the package the master runs. Instead the
# directory holding the master's own fasthttpd goes first: a worker runs the same
# files as its master, compiled or not.
WORKER_BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv[1]); "
                    "from fasthttpd.workers.worker import main; sys.exit(main())")


def package_parent() -> str:
    """The directory from which this process imported fasthttpd."""
    return os.path.dirname(os.path.dirname(os.path.abspath(fasthttpd.__file__)))


def worker_command() -> list[str]:
    return [sys.executable, "-c", WORKER_BOOTSTRAP, package_parent()]


def worker_environment() -> dict[str, str]:
    """The master's environment, less the socket-activation variables (meant for it)."""
    env = dict(os.environ)
    activation.forget(env)
    return env


def check_same_fasthttpd(ready: dict[str, Any]) -> None:
    """A worker runs the master's fasthttpd; say so loudly if it somehow does not."""
    from fasthttpd.log import running_fasthttpd

    theirs = ready.get("fasthttpd")
    if theirs is not None and theirs != running_fasthttpd():
        logger.warning("worker %s runs %s, not the master's %s", ready.get("pid"), theirs,
                       running_fasthttpd())


def read_available(fd: int) -> bytes | None:
    """What a non-blocking pipe holds now: b"" when nothing, None at end of file."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return b"".join(chunks)
        except OSError:
            return None if not chunks else b"".join(chunks)
        if not chunk:
            return None if not chunks else b"".join(chunks)
        chunks.append(chunk)


def relay_to_stderr(data: bytes) -> None:
    try:
        sys.stderr.flush()
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()
    except (OSError, ValueError, AttributeError):
        pass  # no usable stderr: the tail kept for crash reports still has it


def exit_cause(returncode: int, fatal: str | None) -> str:
    if returncode < 0:
        try:
            text = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            text = f"killed by signal {-returncode}"
    else:
        text = f"exit code {returncode}"
    if fatal:
        text += f": {fatal}"
    return text


def tail_text(process: WorkerProcess) -> str:
    if process.fatal or not process.stderr_tail:
        return ""
    return "; its last output:\n    " + "\n    ".join(process.stderr_tail)


def resident_memory(pid: int) -> int | None:
    """Resident set size in bytes, from /proc (Linux) or psutil elsewhere."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except FileNotFoundError:
        pass
    except (OSError, ValueError, IndexError):
        return None
    try:
        import psutil
    except ImportError:
        return None
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None
