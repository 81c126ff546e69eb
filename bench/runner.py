"""Running the scenarios against the servers, interleaved, and summarising.

Theory of operation: scenarios are visited grouped by the server setup they need
(app, TLS), so a server process serves every scenario of its group and is started
once per group. For each scenario every taking-part server is probed and warmed
up, then the measured rounds are interleaved (fasthttpd, peer A, peer B, fasthttpd,
...), so that the noise of a shared machine falls on everyone alike. Each measured
run is bracketed by probes and its counters validated (bench/loadgen.py); a
server that fails any of that gets no number for the scenario, only the reason.
Figures are the medians over rounds, and each peer's comparison is the ratio of
medians from the same run, expressed as fasthttpd's advantage (above 1 means
fasthttpd is better, whichever way the figure points).

The memory scenario starts a fresh server for every measurement, takes its
resident memory (whole process tree) before and after a helper process
(bench/idle_clients.py) opened the idle connections, and then has every
connection make a second request to prove the server kept them open.
"""

from __future__ import annotations

import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import loadgen, wsload
from bench.probe import check as probe_check
from bench.scenarios import IDLE_MEMORY, Scenario
from bench.servers import (
    OURS,
    SERVERS,
    WS,
    WS_IDLE,
    Launch,
    ServerFailed,
    ServerProcess,
    TlsFiles,
    free_port,
    pinned,
)

READY_TIMEOUT = 30.0
MEMORY_SETTLE_SECONDS = 1.0
MIB = 1024 * 1024


@dataclass
class Options:
    quick: bool
    scenarios: list[str]
    servers: list[str]
    rounds: int
    duration: int  # seconds per measured run
    warmup: int  # seconds of unmeasured load first; 0 skips it
    idle_connections: int
    server_core: int | None
    load_core: int | None


@dataclass
class Cell:
    """What one server did in one scenario."""
    status: str = "ok"  # ok, failed, unsupported
    reason: str = ""
    rounds: list[dict[str, Any]] = field(default_factory=list)
    median: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.status = "failed"
        self.reason = reason

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.status == "ok":
            data["median"] = self.median
            data["rounds"] = self.rounds
        return data


def make_tls_files(directory: Path) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1/localhost (trustme)."""
    import trustme
    from cryptography.hazmat.primitives import serialization

    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    certfile, keyfile, cafile = (directory / "cert.pem", directory / "key.pem",
                                 directory / "ca.pem")
    certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    keyfile.write_bytes(pkcs8)
    authority.cert_pem.write_to_path(str(cafile))
    return TlsFiles(str(certfile), str(keyfile), str(cafile))


def median_of(values: list[float]) -> float:
    return statistics.median(values)


class Runner:
    def __init__(self, options: Options, repo: Path, env: dict[str, str],
                 say: Callable[[str], None]) -> None:
        self.options = options
        self.repo = repo
        self.env = env
        self.say = say
        self.python = sys.executable
        self.workdir = Path(tempfile.mkdtemp(prefix="fasthttpd-bench-"))
        self.tls = make_tls_files(self.workdir)
        self.running: dict[str, ServerProcess] = {}
        self.commands: dict[str, dict[str, str]] = {}  # scenario -> server -> command

    # Servers ---------------------------------------------------------------

    def start_server(self, name: str, app: str, tls: bool,
                     websocket: bool = False) -> ServerProcess:
        launch = Launch(app, free_port(), self.tls if tls else None, websocket)
        log_path = self.workdir / f"{name}-{launch.port}.log"
        server = ServerProcess(SERVERS[name], launch, self.python, self.options.server_core,
                               self.repo, self.env, log_path)
        try:
            server.start(READY_TIMEOUT)
        except BaseException:
            server.stop()
            raise
        return server

    def server_for(self, name: str, scenario: Scenario) -> ServerProcess:
        """The running server of the scenario's group, (re)started when needed."""
        current = self.running.get(name)
        wanted_tls = scenario.tls
        if (current is not None and current.is_alive() and current.launch.app == scenario.app
                and (current.launch.tls is not None) == wanted_tls):
            return current
        if current is not None:
            current.stop()
            del self.running[name]
        server = self.start_server(name, scenario.app, wanted_tls,
                                   scenario.feature in (WS, WS_IDLE))
        self.running[name] = server
        return server

    def stop_all(self) -> None:
        for server in self.running.values():
            server.stop()
        self.running.clear()

    # One load run ----------------------------------------------------------

    def load(self, scenario: Scenario, port: int, seconds: int) -> loadgen.LoadResult:
        scheme = "https" if scenario.tls else "http"
        url = f"{scheme}://127.0.0.1:{port}{scenario.path}"
        if scenario.tool == "wsload":
            return wsload.run_wsload(port, scenario.path, connections=scenario.connections,
                                     seconds=seconds, size=scenario.message_size,
                                     depth=scenario.streams, binary_messages=scenario.binary,
                                     core=self.options.load_core)
        if scenario.tool == "h2load":
            return loadgen.run_h2load(url, clients=scenario.connections,
                                      streams=scenario.streams, seconds=seconds,
                                      core=self.options.load_core)
        return loadgen.run_wrk(url, connections=scenario.connections, seconds=seconds,
                               core=self.options.load_core, lua=scenario.lua,
                               script_args=scenario.script_args)

    def probe(self, scenario: Scenario, server: ServerProcess) -> str | None:
        return probe_check(scenario.probe, server.port, self.tls.cafile if scenario.tls else None)

    def measure_once(self, scenario: Scenario, server: ServerProcess,
                     seconds: int) -> tuple[dict[str, Any] | None, str]:
        """One validated run: (figures, "") or (None, reason)."""
        problem = self.probe(scenario, server)
        if problem:
            return None, "before the run: " + problem
        cpu_before = server.cpu_seconds()
        result = self.load(scenario, server.port, seconds)
        cpu_used = server.cpu_seconds() - cpu_before
        self.commands.setdefault(scenario.key, {})[server.spec.name] = result.command
        problem = loadgen.validate(result, scenario.min_body_bytes, scenario.expected_protocol)
        if problem:
            return None, problem
        if not server.is_alive():
            return None, "server died during the run: " + server.log_tail()
        problem = self.probe(scenario, server)
        if problem:
            return None, "after the run: " + problem
        figures: dict[str, Any] = {"requests_per_s": round(result.requests_per_second, 1),
                                   "requests": result.requests,
                                   "seconds": round(result.seconds, 3),
                                   # Well under 100: the server waited (on the load
                                   # generator or on a busy machine), not the other way round.
                                   "server_cpu_percent": round(
                                       100 * cpu_used / max(result.seconds, 1e-9), 1)}
        if result.latency_ms and scenario.records_latency:
            figures["latency_ms"] = {k: round(v, 3) for k, v in result.latency_ms.items()}
            figures["p99_ms"] = figures["latency_ms"]["p99"]
        return figures, ""

    # Scenarios -------------------------------------------------------------

    def participants(self, scenario: Scenario) -> list[str]:
        return [name for name in self.options.servers
                if scenario.feature in SERVERS[name].features]

    def run_scenario(self, scenario: Scenario) -> dict[str, Cell]:
        cells = {name: Cell() for name in self.options.servers}
        taking_part = self.participants(scenario)
        for name in self.options.servers:
            if name not in taking_part:
                cells[name] = Cell(status="unsupported",
                                   reason=f"{name} does not serve {scenario.feature}")
        if scenario.tool == "idle":
            self.run_memory(scenario, taking_part, cells)
        else:
            self.run_load(scenario, taking_part, cells)
        for name in taking_part:
            cell = cells[name]
            if cell.status == "ok":
                cell.median = summarise(cell.rounds)
            self.say(f"  {name:10s} {describe(scenario, cell)}")
        return cells

    def run_load(self, scenario: Scenario, taking_part: list[str],
                 cells: dict[str, Cell]) -> None:
        servers: dict[str, ServerProcess] = {}
        for name in taking_part:
            try:
                servers[name] = self.server_for(name, scenario)
            except ServerFailed as exc:
                cells[name].fail(f"did not start: {exc}")
                continue
            problem = self.probe(scenario, servers[name])
            if problem is None and self.options.warmup > 0:
                _, problem = self.measure_once(scenario, servers[name], self.options.warmup)
                problem = f"warm-up: {problem}" if problem else None
            if problem:
                cells[name].fail(problem)
        for _ in range(self.options.rounds):
            for name in taking_part:
                if cells[name].status != "ok":
                    continue
                figures, problem = self.measure_once(scenario, servers[name],
                                                     self.options.duration)
                if figures is None:
                    cells[name].fail(problem)
                else:
                    cells[name].rounds.append(figures)

    def run_memory(self, scenario: Scenario, taking_part: list[str],
                   cells: dict[str, Cell]) -> None:
        self.stop_all()  # a fresh server per measurement, nothing else holding memory
        for _ in range(self.options.rounds):
            for name in taking_part:
                if cells[name].status != "ok":
                    continue
                try:
                    figures, problem = self.measure_memory_once(scenario, name)
                except ServerFailed as exc:
                    figures, problem = None, f"did not start: {exc}"
                if figures is None:
                    cells[name].fail(problem)
                else:
                    cells[name].rounds.append(figures)

    def measure_memory_once(self, scenario: Scenario,
                            name: str) -> tuple[dict[str, Any] | None, str]:
        count = self.options.idle_connections
        if scenario.idle_count and not self.options.quick:
            count = scenario.idle_count
        websocket = scenario.feature in (WS, WS_IDLE)
        server = self.start_server(name, scenario.app, tls=False, websocket=websocket)
        helper = None
        try:
            problem = self.probe(scenario, server)
            if problem:
                return None, problem
            time.sleep(MEMORY_SETTLE_SECONDS / 2)
            before = server.rss_bytes()
            command = (wsload.idle_command(server.port, scenario.path, count) if websocket
                       else [self.python, "-m", "bench.idle_clients", str(server.port),
                             str(count)])
            helper = subprocess.Popen(
                pinned(command, self.options.load_core),
                cwd=self.repo, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            opened = read_status_line(helper, "opened", timeout=150)
            if opened is None or opened[1] != count:
                return None, f"opening {count} connections: {format_status(opened)}"
            time.sleep(MEMORY_SETTLE_SECONDS)
            after = server.rss_bytes()
            helper.stdin.write("check\n")
            helper.stdin.flush()
            checked = read_status_line(helper, "checked", timeout=150)
            if checked is None or checked[1] != count:
                return None, f"second request on each idle connection: {format_status(checked)}"
            added = after - before
            return {"connections": count,
                    "baseline_mib": round(before / MIB, 2),
                    "with_connections_mib": round(after / MIB, 2),
                    "added_mib": round(added / MIB, 2),
                    "per_connection_kib": round(added / count / 1024, 2)}, ""
        finally:
            if helper is not None:
                stop_helper(helper)
            server.stop()

    def run(self, scenarios: list[Scenario]) -> dict[str, dict[str, Cell]]:
        """Every scenario, visited grouped by server setup; cells by scenario key."""
        order = sorted(scenarios, key=lambda s: (s.tool == "idle", s.server_group))
        results: dict[str, dict[str, Cell]] = {}
        current_group = None
        try:
            for scenario in order:
                if scenario.server_group != current_group:
                    self.stop_all()
                    current_group = scenario.server_group
                self.say(f"{scenario.key}: {scenario.title}")
                began = time.monotonic()
                results[scenario.key] = self.run_scenario(scenario)
                self.say(f"  ({time.monotonic() - began:.1f} s)")
        finally:
            self.stop_all()
            shutil.rmtree(self.workdir, ignore_errors=True)  # certificates and server logs
        return {s.key: results[s.key] for s in scenarios}


def read_status_line(helper: subprocess.Popen[str], word: str,
                     timeout: float) -> tuple[str, int, int, str] | None:
    """The helper's `WORD OK FAILED REASON` line, or None when it did not come in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([helper.stdout], [], [], deadline - time.monotonic())
        if not ready:
            return None
        line = helper.stdout.readline()
        if not line:
            return None
        parts = line.split()
        if len(parts) == 4 and parts[0] == word:
            return parts[0], int(parts[1]), int(parts[2]), parts[3]
    return None


def format_status(status: tuple[str, int, int, str] | None) -> str:
    if status is None:
        return "the helper gave no answer in time"
    return f"{status[1]} ok, {status[2]} failed (first: {status[3]})"


def stop_helper(helper: subprocess.Popen[str]) -> None:
    try:
        helper.stdin.write("quit\n")
        helper.stdin.flush()
        helper.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    try:
        helper.wait(timeout=10)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait(timeout=5)


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of every figure the rounds carry."""
    summary: dict[str, Any] = {}
    for key, value in rounds[0].items():
        if isinstance(value, dict):
            summary[key] = {inner: round(median_of([r[key][inner] for r in rounds]), 3)
                            for inner in value}
        elif isinstance(value, (int, float)):
            summary[key] = round(median_of([r[key] for r in rounds]), 3)
    return summary


def headline_value(scenario: Scenario, cell: Cell) -> float | None:
    if cell.status != "ok" or not cell.median:
        return None
    return cell.median.get(scenario.headline)


def advantage(scenario: Scenario, ours: float | None, peer: float | None) -> float | None:
    """How many times better fasthttpd is than the peer (above 1: fasthttpd better)."""
    if ours is None or peer is None or ours <= 0 or peer <= 0:
        return None
    return ours / peer if scenario.higher_is_better else peer / ours


def ratios(scenario: Scenario, cells: dict[str, Cell]) -> dict[str, float | None]:
    ours = cells.get(OURS)
    if ours is None:
        return {}
    our_value = headline_value(scenario, ours)
    return {name: (None if (value := advantage(scenario, our_value,
                                               headline_value(scenario, cell))) is None
                   else round(value, 3))
            for name, cell in cells.items() if name != OURS and cell.status != "unsupported"}


def describe(scenario: Scenario, cell: Cell) -> str:
    if cell.status != "ok":
        return f"{cell.status}: {cell.reason}"
    median = cell.median
    if scenario.headline == IDLE_MEMORY:
        return (f"{median['added_mib']:.1f} MiB added by {median['connections']} idle "
                f"connections ({median['per_connection_kib']:.1f} KiB each)")
    unit = "msg/s" if scenario.tool == "wsload" else "req/s"
    text = f"{median['requests_per_s']:,.0f} {unit}"
    latency = median.get("latency_ms")
    if latency:
        text += (f", p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms, "
                 f"p99.9 {latency['p99.9']:.2f} ms")
    return text

