"""The servers under test: how each is started, what it supports, how it is stopped.

Theory of operation: a `ServerSpec` turns a `Launch` (which app, which port, TLS
files or not, which protocol mode) into the command line of one server, run with the
bench virtual environment's interpreter. `ServerProcess` runs that command pinned to
the server core (`taskset -c`), in its own session so that the whole process tree
(granian and hypercorn fork a worker) is stopped with one signal to the group, with a
raised open-file limit (the memory scenario holds thousands of sockets), and with its
output in a log file whose tail explains a failure. Readiness is a TCP connect that
succeeds; the harness then probes with a real request before measuring.

Every server gets the same long keep-alive timeout so that the idle-connection
scenario measures memory, not who hangs up first (uvicorn's default is 5 s).
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

KEEP_ALIVE_SECONDS = 300
OPEN_FILES_WANTED = 65536
GRANIAN_BACKPRESSURE = 16384

# Features a scenario may need; a server lists the ones it has.
H1 = "h1"
H1_TLS = "h1-tls"
H2C = "h2c"
H2_TLS = "h2-tls"
WS = "ws"  # WebSocket (RFC 6455) over HTTP/1.1
WS_IDLE = "ws-idle"  # the same, in the memory scenario (where the ceiling has no place)


@dataclass(frozen=True)
class TlsFiles:
    certfile: str
    keyfile: str  # PKCS#8 PEM: granian accepts no other key format
    cafile: str


@dataclass(frozen=True)
class Launch:
    app: str  # "module:attribute"
    port: int
    tls: TlsFiles | None = None
    websocket: bool = False  # the app serves WebSockets: peers that can switch them off must not


@dataclass(frozen=True)
class ServerSpec:
    name: str
    features: frozenset[str]
    build_command: Callable[[str, Launch], list[str]]
    version_distribution: str  # the distribution whose version the results record

    def command(self, python: str, launch: Launch) -> list[str]:
        return self.build_command(python, launch)


def _fasthttpd(python: str, launch: Launch) -> list[str]:
    command = [python, "-m", "fasthttpd", launch.app, "--host", "127.0.0.1",
               "--port", str(launch.port), "--no-access-log", "--log-level", "warning",
               "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", "4096"]
    if launch.tls:
        command += ["--ssl-certfile", launch.tls.certfile, "--ssl-keyfile", launch.tls.keyfile]
    return command


def _uvicorn(python: str, launch: Launch) -> list[str]:
    # WebSockets on uvicorn's default implementation, the `websockets` library.
    command = [python, "-m", "uvicorn", launch.app, "--host", "127.0.0.1",
               "--port", str(launch.port), "--loop", "uvloop", "--http", "httptools",
               "--ws", "websockets", "--no-access-log", "--log-level", "warning",
               "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", "4096"]
    if launch.tls:
        command += ["--ssl-certfile", launch.tls.certfile, "--ssl-keyfile", launch.tls.keyfile]
    return command


def _granian(python: str, launch: Launch) -> list[str]:
    # `--http auto` negotiates h2 by ALPN on TLS and sniffs the h2c preface. Granian
    # serves at most `--backpressure` connections at once (default backlog/workers) and
    # leaves the others unread until one closes, so it is raised above the idle scenario's
    # connection count; the others have no such cap. Its idle keep-alive deadline is the
    # header read timeout, raised to its maximum (60 s) in the spirit of KEEP_ALIVE_SECONDS.
    command = [python, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
               "--port", str(launch.port), "--workers", "1", "--loop", "uvloop",
               "--http", "auto", *(() if launch.websocket else ("--no-ws",)),
               "--log-level", "warning", "--no-access-log",
               "--backlog", "4096", "--backpressure", str(GRANIAN_BACKPRESSURE),
               "--http1-header-read-timeout", "60000", launch.app]
    if launch.tls:
        command += ["--ssl-certificate", launch.tls.certfile,
                    "--ssl-keyfile", launch.tls.keyfile]
    return command


def _hypercorn(python: str, launch: Launch) -> list[str]:
    command = [python, "-m", "hypercorn", "--bind", f"127.0.0.1:{launch.port}",
               "--workers", "1", "--worker-class", "uvloop", "--log-level", "warning",
               "--keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", "4096", launch.app]
    if launch.tls:
        command += ["--certfile", launch.tls.certfile, "--keyfile", launch.tls.keyfile]
    return command


def _ws_ceiling(python: str, launch: Launch) -> list[str]:
    from bench.wsload import ceiling_command

    return ceiling_command(launch.port)


ALL_FEATURES = frozenset({H1, H1_TLS, H2C, H2_TLS, WS, WS_IDLE})

SERVERS: dict[str, ServerSpec] = {
    "fasthttpd": ServerSpec("fasthttpd", ALL_FEATURES, _fasthttpd, "fasthttpd"),
    "uvicorn": ServerSpec("uvicorn", frozenset({H1, H1_TLS, WS, WS_IDLE}), _uvicorn, "uvicorn"),
    "granian": ServerSpec("granian", ALL_FEATURES, _granian, "granian"),
    "hypercorn": ServerSpec("hypercorn", ALL_FEATURES, _hypercorn, "hypercorn"),
    # The WebSocket load generator's own trivial echo (bench/ws_load.c --serve): not
    # a server under test but the ceiling that shows the generator is not the limit.
    "ws-ceiling": ServerSpec("ws-ceiling", frozenset({WS}), _ws_ceiling, "fasthttpd"),
}
OURS = "fasthttpd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_open_file_limit() -> None:
    """Raise this process's soft RLIMIT_NOFILE as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard,
                                                                          OPEN_FILES_WANTED)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def pinned(command: list[str], core: int | None) -> list[str]:
    if core is None:
        return command
    return ["taskset", "-c", str(core)] + command


class ServerFailed(Exception):
    """The server did not start or died; the message carries the reason."""


class ServerProcess:
    def __init__(self, spec: ServerSpec, launch: Launch, python: str, core: int | None,
                 cwd: Path, env: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self.launch = launch
        self.command = spec.command(python, launch)
        self.core = core
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return self.launch.port

    def start(self, ready_timeout: float) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                pinned(self.command, self.core), cwd=self.cwd, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=raise_open_file_limit)
        self._wait_for_port(ready_timeout)

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise ServerFailed(f"exited with code {self.process.returncode} at start-up: "
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServerFailed(f"port {self.port} not open after {timeout:.0f} s: {self.log_tail()}")

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the server and every process below it."""
        root = psutil.Process(self.process.pid)
        total = 0
        for process in [root] + root.children(recursive=True):
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_seconds(self) -> float:
        """User and system CPU time used so far by the server and its processes."""
        root = psutil.Process(self.process.pid)
        total = 0.0
        for process in [root] + root.children(recursive=True):
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def log_tail(self, limit: int = 600) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return " ".join(text[-limit:].split())

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        if self.process.poll() is None:
            # The server leads its own session, so its group id is its pid.
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=5)
        for child in family:  # workers left behind by their parent, by pid
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
