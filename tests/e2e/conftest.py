"""End-to-end fixtures: a real fasthttpd process on 127.0.0.1, per parser implementation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fasthttpd.http1 import IMPLEMENTATIONS as HTTP1_IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parents[2]
# Each server runs compiled, and with FASTHTTPD_NO_EXTENSIONS=1 ("python").
IMPLEMENTATIONS = list(HTTP1_IMPLEMENTATIONS)
START_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, scheme: str) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.url = f"{scheme}://127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, *needles: str, timeout: float = 5.0) -> str:
        """The log once it holds every one of `needles` (as it is at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if all(needle in log for needle in needles) or time.monotonic() > deadline:
                return log
            time.sleep(0.05)

    def log_events_of(self, peer: str, log: str) -> list[str]:
        """What the log says about one client address ("host:port"), line by line,
        without the time and level: the TRACE lines of --log-level trace."""
        marker = f" {peer} - "
        return [line.split(marker, 1)[1] for line in log.splitlines() if marker in line]

    def connect(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return sock

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise


def server_env(impl: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FASTHTTPD_NO_EXTENSIONS", None)
    if impl == "python":
        env["FASTHTTPD_NO_EXTENSIONS"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


@contextmanager
def run_server(*args: str, app: str = "tests.e2e.apps:app", impl: str = "compiled",
               env: dict[str, str] | None = None, scheme: str = "http",
               port: int | None = None) -> Iterator[RunningServer]:
    """Start `python -m fasthttpd APP ARGS` and wait until it accepts connections."""
    port = port or free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="fasthttpd-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "fasthttpd", app, "--host", "127.0.0.1", "--port", str(port),
           "--app-dir", str(ROOT), "--no-access-log", *args]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                            env=server_env(impl, env), cwd=ROOT)
    server = RunningServer(proc, port, Path(log_file.name), scheme)
    try:
        wait_until_listening(server)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log_file.close()
        os.unlink(log_file.name)


def wait_until_listening(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen within {START_TIMEOUT}s:\n{server.log()}")


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def server(impl: str) -> Iterator[RunningServer]:
    """A long-lived server with default settings, shared by the tests of one implementation."""
    with run_server(impl=impl) as running:
        yield running


def exchange(port: int, data: bytes, timeout: float = 5.0, until_close: bool = True) -> bytes:
    """Send raw bytes, return everything received until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not until_close:
                break
        return b"".join(chunks)
