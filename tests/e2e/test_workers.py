"""The worker pool end to end: a real master, real worker processes, real clients.

Every server listens on 127.0.0.1; every client request and every wait has a
timeout; load loops are bounded in time. Worker PIDs are observed through the
test app (it answers with its PID) and through psutil (the master's children).
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
READY_TIMEOUT = 20.0
REQUEST_TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str,
             interval: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sample(text: str, name: str, labels: str = "") -> float:
    pattern = "^" + re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


@dataclass
class Pool:
    proc: subprocess.Popen[bytes]
    port: int
    admin_port: int
    log_path: Path
    seen_workers: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=REQUEST_TIMEOUT)

    def admin(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.admin_port}{path}", timeout=REQUEST_TIMEOUT)

    def metrics(self) -> str:
        return self.admin("/metrics").text

    def is_ready(self) -> bool:
        """Every desired worker is up (/ready alone says one is)."""
        try:
            if self.admin("/ready").status_code != 200:
                return False
            up, desired = self.admin("/health").text.split()[1].split("/")
        except (httpx.HTTPError, IndexError, ValueError):
            return False
        return int(up) >= int(desired)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"master exited with {self.proc.returncode}:\n{self.log()}")
            if self.is_ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"pool not ready within {timeout}s:\n{self.log()}")

    def worker_pids(self) -> set[int]:
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return set()
        pids = {child.pid for child in children if child.is_running()
                and child.status() != psutil.STATUS_ZOMBIE}
        self.seen_workers |= pids
        return pids

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


@contextmanager
def run_pool(*args: str, app: str = "workers_pid:app", app_dir: Path = APPS,
             workers: int = 2, wait: bool = True, env: dict[str, str] | None = None,
             cwd: Path = ROOT, python_flags: tuple[str, ...] = ()) -> Iterator[Pool]:
    """Start `python -m fasthttpd APP --workers N --admin-port P ...` and wait for /ready."""
    port, admin_port = free_port(), free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="fasthttpd-workers-", suffix=".log",
                                           delete=False)
    cmd = [sys.executable, *python_flags, "-m", "fasthttpd", app, "--host", "127.0.0.1",
           "--port", str(port),
           "--app-dir", str(app_dir), "--workers", str(workers), "--no-access-log",
           "--admin-port", str(admin_port), "--worker-heartbeat-interval", "0.2",
           "--timeout-graceful-shutdown", "5", *args]
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = str(ROOT) + os.pathsep + child_env.get("PYTHONPATH", "")
    child_env.update(env or {})
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=child_env,
                            cwd=cwd)
    pool = Pool(proc, port, admin_port, Path(log_file.name))
    try:
        if wait:
            pool.wait_ready()
            pool.worker_pids()
        yield pool
    finally:
        pool.worker_pids()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        kill_leftover_workers(pool.seen_workers)
        log_file.close()
        os.unlink(log_file.name)


def kill_leftover_workers(pids: set[int]) -> None:
    """Workers this test started that outlived their master (they should not)."""
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if "fasthttpd.workers.worker" in " ".join(process.cmdline()):
                process.kill()
        except psutil.Error:
            pass


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    bodies: collections.Counter[str] = field(default_factory=collections.Counter)


def load_loop(url: str, stop: threading.Event, keep_alive: bool, max_seconds: float = 30.0,
              ) -> LoadResult:
    """GET `url` back to back until `stop` (bounded by max_seconds)."""
    result = LoadResult()
    limits = httpx.Limits(max_keepalive_connections=1 if keep_alive else 0)
    deadline = time.monotonic() + max_seconds
    with httpx.Client(timeout=REQUEST_TIMEOUT, limits=limits) as client:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                response = client.get(url)
            except httpx.HTTPError as exc:
                kind = "keep-alive" if keep_alive else "new connection"
                result.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            if response.status_code == 200:
                result.ok += 1
                result.bodies[response.text] += 1
            else:
                result.failures.append(f"status {response.status_code}")
    return result


@contextmanager
def background_load(url: str, clients: tuple[bool, ...] = (True, False),
                    ) -> Iterator[list[LoadResult]]:
    """Run one load loop per entry of `clients` (True: keep-alive) in threads."""
    stop = threading.Event()
    results: list[LoadResult] = []
    lock = threading.Lock()

    def run(keep_alive: bool) -> None:
        result = load_loop(url, stop, keep_alive)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(keep_alive,)) for keep_alive in clients]
    for thread in threads:
        thread.start()
    try:
        yield results
    finally:
        stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in threads), "a load client is stuck"


# -- observability ---------------------------------------------------------------


def test_metrics_count_known_traffic_and_app_errors_reach_the_master() -> None:
    with run_pool(workers=2) as pool:
        assert pool.admin("/health").status_code == 200
        assert pool.admin("/ready").text.strip() == "2/2 workers ready"
        with httpx.Client(base_url=pool.url, timeout=REQUEST_TIMEOUT) as client:
            statuses = [client.get("/").status_code for _ in range(10)]
            statuses += [client.get("/missing").status_code for _ in range(3)]
            statuses += [client.get("/error").status_code for _ in range(2)]
        assert statuses == [200] * 10 + [404] * 3 + [500] * 2
        # HTTP/2 with prior knowledge, counted under its own protocol label.
        with httpx.Client(base_url=pool.url, timeout=REQUEST_TIMEOUT, http1=False,
                          http2=True) as client:
            responses = [client.get("/") for _ in range(2)]
        assert [(r.http_version, r.status_code) for r in responses] == [("HTTP/2", 200)] * 2

        def counted() -> str | None:
            text = pool.metrics()
            return text if sample(text, "fasthttpd_request_duration_seconds_count") == 17 \
                else None

        text = str(wait_for(counted, 5.0, "the metrics to count 17 requests"))
        assert sample(text, "fasthttpd_requests_total", 'protocol="2",status_class="2xx"') == 2
        assert sample(text, "fasthttpd_requests_total", 'protocol="1.1",status_class="2xx"') == 10
        assert sample(text, "fasthttpd_requests_total", 'protocol="1.1",status_class="4xx"') == 3
        assert sample(text, "fasthttpd_requests_total", 'protocol="1.1",status_class="5xx"') == 2
        assert sample(text, "fasthttpd_request_duration_seconds_bucket", 'le="+Inf"') == 17
        assert sample(text, "fasthttpd_app_errors_total") == 2
        assert sample(text, "fasthttpd_workers_alive") == 2
        assert sample(text, "fasthttpd_worker_restarts_total", 'reason="crash"') == 0
        # The client closed its connection: the gauge goes back to zero.
        wait_for(lambda: sample(pool.metrics(), "fasthttpd_open_connections") == 0, 5.0,
                 "open connections to drop to 0")
        # Each app exception is logged once, with the request it broke and its
        # traceback: by the worker (its stderr goes through the master's), not again by
        # the master.
        wait_for(lambda: pool.log().count("Exception in ASGI application (GET /error)") == 2,
                 5.0, "the two app errors in the log")
        assert pool.stop() == 0
        assert pool.log().count("RuntimeError: the workers_pid app fails on purpose") == 2
        assert pool.log().count("Traceback (most recent call last)") == 2


def test_ready_is_200_as_soon_as_one_worker_accepts() -> None:
    # The first worker to import the module starts at once; the other sleeps 6 s.
    with tempfile.TemporaryDirectory() as app_dir:
        Path(app_dir, "workers_one_slow.py").write_text(
            "import os, time\n"
            "try:\n"
            "    os.close(os.open(os.path.join(os.path.dirname(__file__), 'first'),\n"
            "                     os.O_CREAT | os.O_EXCL))\n"
            "except FileExistsError:\n"
            "    time.sleep(6)\n"
            "from workers_pid import app\n")
        with run_pool(app="workers_one_slow:app", app_dir=Path(app_dir), wait=False,
                      env={"PYTHONPATH": f"{ROOT}{os.pathsep}{APPS}"}) as pool:
            wait_for(lambda: _admin_or_none(pool, "/health"), 10.0, "the admin port")
            ready = wait_for(lambda: (r := _admin_or_none(pool, "/ready")) is not None
                             and r.status_code == 200 and r, 10.0, "/ready 200")
            # One of two workers is up: ready, and /health and the metrics say how many.
            assert ready.text == "1/2 workers ready\n"  # type: ignore[union-attr]
            assert pool.admin("/health").text == "ok: 1/2 workers ready\n"
            assert sample(pool.metrics(), "fasthttpd_workers_ready") == 1
            assert pool.get("/").status_code == 200
            wait_for(lambda: sample(pool.metrics(), "fasthttpd_workers_ready") == 2, 15.0,
                     "the slow worker")
            assert pool.admin("/health").text == "ok: 2/2 workers ready\n"
            pool.signal(signal.SIGTERM)
            # Stopping: not ready any more, while the master still answers.
            wait_for(lambda: (r := _admin_or_none(pool, "/ready")) is None
                     or r.status_code == 503, 10.0, "/ready 503 (or gone) on stop")


def _admin_or_none(pool: Pool, path: str) -> httpx.Response | None:
    try:
        return pool.admin(path)
    except httpx.HTTPError:
        return None


# -- supervision -------------------------------------------------------------------


def test_a_killed_worker_is_replaced_and_no_client_gets_stuck() -> None:
    with run_pool(workers=2) as pool:
        before = pool.worker_pids()
        assert len(before) == 2
        victim = min(before)
        with background_load(pool.url + "/") as results:
            time.sleep(0.5)
            os.kill(victim, signal.SIGKILL)
            pids = wait_for(lambda: (p := pool.worker_pids()) and len(p) == 2 and victim not in p
                            and p, 15.0, "a replacement worker")
            pool.wait_ready(15.0)
            time.sleep(0.5)
        (replacement,) = set(pids) - before  # type: ignore[arg-type]
        # Clients never hung (each request has a timeout and the threads finished);
        # requests after the replacement was up were served, by both workers.
        assert sum(r.ok for r in results) > 0
        assert all("Timeout" not in failure for r in results for failure in r.failures)
        assert pool.get("/").status_code == 200
        text = pool.metrics()
        assert sample(text, "fasthttpd_worker_restarts_total", 'reason="crash"') == 1
        assert "killed by SIGKILL" in pool.log()
        assert pool.stop() == 0
        assert replacement in pool.seen_workers


def test_a_worker_with_a_blocked_event_loop_is_killed_and_replaced() -> None:
    with run_pool("--worker-heartbeat-timeout", "1", workers=2) as pool:
        before = pool.worker_pids()
        blocked_pid: list[int] = []

        def block() -> None:
            try:
                blocked_pid.append(int(httpx.get(pool.url + "/block?s=60", timeout=3).text))
            except httpx.HTTPError:
                pass  # the worker is killed mid-request: expected

        thread = threading.Thread(target=block)
        thread.start()
        wait_for(lambda: sample(pool.metrics(), "fasthttpd_worker_restarts_total",
                                'reason="heartbeat"') == 1, 15.0, "a heartbeat restart")
        thread.join(10)
        wait_for(lambda: len(pool.worker_pids() - before) == 1, 15.0, "a replacement worker")
        pool.wait_ready(15.0)
        assert "did not stop in time (heartbeat)" in pool.log() or \
            "stopping (heartbeat)" in pool.log()
        assert pool.stop() == 0


@pytest.mark.parametrize("app", ["workers_lifespan_fails:app", "workers_import_fails:app"])
def test_crash_loop_exits_non_zero_with_the_cause(app: str) -> None:
    with run_pool("--worker-crash-limit", "3", app=app, workers=2, wait=False) as pool:
        try:
            code = pool.proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no crash-loop exit within 30s:\n{pool.log()}")
        log = pool.log()
        assert code != 0
        assert "crash loop" in log
        cause = "database unreachable" if "lifespan" in app else "a broken module"
        crash_line = next(line for line in log.splitlines() if "crash loop" in line)
        assert "exit code" in crash_line
        assert cause in log[log.index(crash_line):], log


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_workers_run_the_masters_fasthttpd_not_a_source_tree_in_the_working_directory(
        impl: str, tmp_path: Path) -> None:
    # A fasthttpd checkout without compiled modules in the working directory, as when
    # running from a clone. The master (python -P: the working directory is not put on
    # sys.path, as for the installed `fasthttpd` command) runs the tested package.
    import fasthttpd  # the package under test: the checkout's, or an installed wheel's

    package = Path(os.path.abspath(fasthttpd.__file__)).parent
    shutil.copytree(package, tmp_path / "fasthttpd",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    env = {"FASTHTTPD_NO_EXTENSIONS": "1"} if impl == "python" else {}
    if impl == "compiled" and not list(package.glob("_parser.*.so")):
        pytest.fail("the compiled modules are not built: python setup.py build_ext --inplace")
    with run_pool("--log-level", "info", app="which_fasthttpd:app", workers=2, cwd=tmp_path,
                  python_flags=("-P",), env=env) as pool:
        answers = {}
        deadline = time.monotonic() + 10.0
        while len(answers) < 2 and time.monotonic() < deadline:
            answer = httpx.get(pool.url + "/", headers={"connection": "close"},
                               timeout=REQUEST_TIMEOUT).json()
            answers[answer["pid"]] = answer
        assert len(answers) == 2, "both workers answered"
        for answer in answers.values():
            assert answer["file"] == str(package / "__init__.py")
            assert answer["implementation"] == impl
        log = pool.log()
    shown = "compiled" if impl == "compiled" else "pure Python"
    assert f"fasthttpd 0.1.0 ({shown}) from {package}" in log
    assert "running the app 'which_fasthttpd:app'" in log
    assert f"worker(s) serving http://127.0.0.1:{pool.port}" in log
    assert "press Ctrl+C or send SIGTERM to stop" in log
    assert "not the master's" not in log


# -- recycling -------------------------------------------------------------------


def test_workers_are_recycled_after_their_request_limit() -> None:
    with run_pool("--limit-max-requests", "5", workers=2) as pool:
        served: collections.Counter[int] = collections.Counter()
        failures = []
        for _ in range(30):
            try:
                # New connection per request: each worker accepts what it can.
                response = httpx.get(pool.url + "/", timeout=REQUEST_TIMEOUT)
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                continue
            assert response.status_code == 200
            served[int(response.text)] += 1
        assert failures == []
        assert len(served) >= 6  # 30 requests, at most 5 each
        assert max(served.values()) <= 5
        wait_for(lambda: sample(pool.metrics(), "fasthttpd_worker_restarts_total",
                                'reason="max_requests"') >= 4, 10.0, "max_requests restarts")
        pool.wait_ready(15.0)
        assert pool.stop() == 0


def test_jitter_gives_workers_different_limits() -> None:
    with run_pool("--limit-max-requests", "3", "--limit-max-requests-jitter", "20",
                  workers=2) as pool:
        served: collections.Counter[int] = collections.Counter()
        for _ in range(40):
            served[int(pool.get("/").text)] += 1
        assert max(served.values()) <= 23
        # With a jitter of 20 the chance that every worker stopped at exactly 3 is nil.
        assert any(count > 3 for count in served.values()), served


def test_workers_are_recycled_after_their_ttl() -> None:
    with run_pool("--worker-ttl", "2", workers=2) as pool:
        first = pool.worker_pids()
        wait_for(lambda: not (pool.worker_pids() & first), 15.0, "every worker replaced")
        pool.wait_ready(15.0)
        assert sample(pool.metrics(), "fasthttpd_worker_restarts_total", 'reason="ttl"') >= 2
        assert pool.get("/").status_code == 200


def test_a_worker_above_the_memory_limit_is_recycled() -> None:
    # A worker with the app loaded takes a few tens of MB: 100 MB leaves room, and
    # the one asked to hold 120 MB more goes over.
    with run_pool("--worker-max-rss", "100", workers=2) as pool:
        before = pool.worker_pids()
        rss = max(psutil.Process(pid).memory_info().rss for pid in before)
        assert rss < 80 * 2**20, "the test's premise: a fresh worker is well below 100 MB"
        grown = int(httpx.get(pool.url + "/grow?mb=120", timeout=15).text)
        wait_for(lambda: grown not in pool.worker_pids(), 15.0, "the grown worker to retire")
        pool.wait_ready(15.0)
        after = pool.worker_pids()
        assert len(after) == 2 and (before - {grown}) <= after  # the other one stays
        assert sample(pool.metrics(), "fasthttpd_worker_restarts_total",
                      'reason="max_rss"') == 1
        assert pool.get("/").status_code == 200


# -- signals -----------------------------------------------------------------------


def test_sighup_reloads_new_code_without_a_failed_request() -> None:
    with tempfile.TemporaryDirectory() as app_dir:
        module = Path(app_dir, "workers_versioned.py")
        module.write_text(versioned_app("one"))
        with run_pool(app="workers_versioned:app", app_dir=Path(app_dir), workers=2) as pool:
            old = pool.worker_pids()
            assert pool.get("/").text.startswith("one ")
            with background_load(pool.url + "/", clients=(True, True, False)) as results:
                time.sleep(0.5)
                module.write_text(versioned_app("two"))
                pool.signal(signal.SIGHUP)
                wait_for(lambda: not (pool.worker_pids() & old), 20.0, "old workers retired")
                pool.wait_ready()
                time.sleep(0.5)
            failures = [f for r in results for f in r.failures]
            assert failures == []
            versions = collections.Counter(
                body.split()[0] for r in results for body in r.bodies.elements())
            assert versions["one"] > 0 and versions["two"] > 0
            assert pool.get("/").text.startswith("two ")
            assert sample(pool.metrics(), "fasthttpd_worker_restarts_total",
                          'reason="reload"') == 2
            assert pool.stop() == 0


def versioned_app(version: str) -> str:
    return f"""
import os

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = ("{version} " + str(os.getpid())).encode()
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]}})
    await send({{"type": "http.response.body", "body": body}})
"""


def test_sigttin_and_sigttou_change_the_worker_count() -> None:
    with run_pool(workers=2) as pool:
        pool.signal(signal.SIGTTIN)
        wait_for(lambda: sample(pool.metrics(), "fasthttpd_workers_alive") == 3
                 and pool.is_ready(), 15.0, "a third worker")
        assert pool.admin("/ready").text.strip() == "3/3 workers ready"
        assert len(pool.worker_pids()) == 3
        pool.signal(signal.SIGTTOU)
        time.sleep(0.2)
        pool.signal(signal.SIGTTOU)
        wait_for(lambda: len(pool.worker_pids()) == 1, 15.0, "one worker left")
        assert sample(pool.metrics(), "fasthttpd_workers_desired") == 1
        assert pool.get("/").status_code == 200
        assert pool.stop() == 0


def test_sigterm_lets_in_flight_requests_finish() -> None:
    with run_pool(workers=2) as pool:
        workers = pool.worker_pids()
        outcome: list[object] = []

        def slow_request() -> None:
            try:
                outcome.append(httpx.get(pool.url + "/sleep?s=1.5", timeout=10).status_code)
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        assert pool.stop() == 0
        assert time.monotonic() - started >= 0.5  # it waited for the request
        thread.join(10)
        assert outcome == [200]
        assert not any(psutil.pid_exists(pid) and "fasthttpd.workers" in
                       " ".join(psutil.Process(pid).cmdline()) for pid in workers)


def test_workers_exit_when_the_master_is_killed() -> None:
    with run_pool(workers=2) as pool:
        workers = pool.worker_pids()
        pool.proc.kill()
        pool.proc.wait(5)
        gone = wait_for(lambda: not any(_is_worker(pid) for pid in workers), 15.0,
                        "orphaned workers to exit")
        assert gone


def _is_worker(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and \
            "fasthttpd.workers.worker" in " ".join(process.cmdline())
    except psutil.Error:
        return False


# -- deployment ------------------------------------------------------------------


def test_reuse_port_workers_bind_their_own_sockets() -> None:
    with run_pool("--reuse-port", workers=2) as pool:
        pids = {int(pool.get("/").text) for _ in range(20)}
        assert pids <= pool.worker_pids()
        # The master holds no listening socket of its own.
        master = psutil.Process(pool.proc.pid)
        listening = [c for c in master.net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == pool.port]
        assert listening == []


@pytest.mark.parametrize("how", ["systemd", "fd"])
def test_inherited_listening_socket(how: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    admin_port = free_port()
    if how == "systemd":
        # systemd passes the sockets from fd 3 and sets LISTEN_PID to the service's
        # PID, which only the started process knows: set it there, then run the command.
        launcher = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
                    "os.environ['LISTEN_PID'] = str(os.getpid()); "
                    "os.environ['LISTEN_FDS'] = '1'; "
                    "from fasthttpd.cli import main; main(sys.argv[2:])")
        where = ["--port", "1"]  # ignored: the activated socket wins
    else:
        launcher = "import sys; from fasthttpd.cli import main; main(sys.argv[2:])"
        where = ["--fd", str(listener.fileno())]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.NamedTemporaryFile(prefix="fasthttpd-workers-", suffix=".log") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", launcher, str(listener.fileno()), "workers_pid:app",
             "--app-dir", str(APPS), "--workers", "2", *where,
             "--admin-port", str(admin_port), "--no-access-log"],
            pass_fds=(listener.fileno(),), env=env, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT)
        listener.close()  # the server's copy is the only one now
        pool = Pool(proc, port, admin_port, Path(log.name))
        try:
            pool.wait_ready()
            pids = {int(pool.get("/").text) for _ in range(10)}
            assert pids <= pool.worker_pids()
            assert pool.stop() == 0
        finally:
            pool.worker_pids()
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            kill_leftover_workers(pool.seen_workers)


def test_reload_option_restarts_workers_on_code_changes() -> None:
    with tempfile.TemporaryDirectory() as app_dir:
        module = Path(app_dir, "workers_versioned.py")
        module.write_text(versioned_app("one"))
        with run_pool("--reload", app="workers_versioned:app", app_dir=Path(app_dir),
                      workers=1) as pool:
            assert pool.get("/").text.startswith("one ")
            time.sleep(0.5)  # let the watcher start
            module.write_text(versioned_app("two"))
            wait_for(lambda: pool.get("/").text.startswith("two "), 20.0, "reloaded code",
                     interval=0.2)
            # Not a .py file: no reload.
            wait_for(lambda: len(pool.worker_pids()) == 1, 15.0, "the old worker to retire")
            pids = pool.worker_pids()
            Path(app_dir, "notes.txt").write_text("hello")
            time.sleep(2.5)
            assert pool.worker_pids() == pids
