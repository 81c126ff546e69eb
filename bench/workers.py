"""Throughput of the hello-world app by worker count, as a ratio to one worker.

Theory of operation: for each worker count (1, 2, then doubling while the server's
share of the cores allows) fasthttpd serves bench.apps:hello; one worker is the
single-process server, more is the supervised pool (with its admin port, used only
to wait until every worker is ready). wrk runs against it with one thread per server
core and 64 connections per worker, and the median of the rounds counts. When the
machine has at least 4 cores the server is pinned to the first half and wrk to the
second half, so the load generator never competes with the workers; with fewer
cores nothing is pinned and the table says so: on 2 cores wrk itself needs about
one core, so a second worker can add little, and the ratio shows the pool's cost
rather than its scaling.

`run(quick)` returns the table as a dict (bench/__main__.py collects it);
`python -m bench.workers [--quick]` prints it.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.loadgen import WRK_REPORT_LUA, parse_wrk, validate

REPO = Path(__file__).resolve().parents[1]
HELLO_BODY_BYTES = 13
READY_TIMEOUT = 30.0
CONNECTIONS_PER_WORKER = 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def core_split() -> tuple[str | None, str | None, int]:
    """(server cores, wrk cores, server core count) for taskset; None: not pinned."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        list(range(os.cpu_count() or 1))
    if len(cores) < 4:
        return None, None, len(cores)
    half = len(cores) // 2
    server, load = cores[:half], cores[half:]
    return ",".join(map(str, server)), ",".join(map(str, load)), half


def worker_counts(server_cores: int, quick: bool) -> list[int]:
    counts = [1, 2]
    while not quick and counts[-1] * 2 <= server_cores:
        counts.append(counts[-1] * 2)
    if server_cores > 2 and not quick and server_cores not in counts:
        counts.append(server_cores)
    return counts


def taskset(command: list[str], cores: str | None) -> list[str]:
    return command if cores is None else ["taskset", "-c", cores, *command]


def start_server(workers: int, port: int, admin_port: int, cores: str | None,
                 log: Any) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "fasthttpd", "bench.apps:hello", "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning",
               "--workers", str(workers)]
    if workers > 1:
        command += ["--admin-port", str(admin_port)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(taskset(command, cores), cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_ready(proc: subprocess.Popen[bytes], workers: int, port: int, admin_port: int) -> None:
    url = f"http://127.0.0.1:{admin_port}/ready" if workers > 1 else \
        f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fasthttpd --workers {workers} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"fasthttpd --workers {workers} not ready within {READY_TIMEOUT}s")


def run_wrk(port: int, threads: int, connections: int, seconds: int,
            cores: str | None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT_LUA)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", script.name, f"http://127.0.0.1:{port}/"]
    try:
        completed = subprocess.run(taskset(command, cores), capture_output=True, text=True,
                                   timeout=seconds + 30)
    finally:
        Path(script.name).unlink()
    result = parse_wrk(completed.stdout)
    problem = result.problem or validate(result, HELLO_BODY_BYTES, None)
    return {"rps": result.requests_per_second, "p99_ms": result.latency_ms.get("p99"),
            "problem": problem}


def measure(workers: int, rounds: int, seconds: int, warmup: int,
            split: tuple[str | None, str | None, int]) -> dict[str, Any]:
    server_cores, load_cores, server_core_count = split
    threads = max(1, min(server_core_count, workers)) if load_cores else 1
    connections = CONNECTIONS_PER_WORKER * workers
    port, admin_port = free_port(), free_port()
    with tempfile.TemporaryFile() as log:
        proc = start_server(workers, port, admin_port, server_cores, log)
        try:
            wait_ready(proc, workers, port, admin_port)
            if warmup:
                run_wrk(port, threads, connections, warmup, load_cores)
            runs = [run_wrk(port, threads, connections, seconds, load_cores)
                    for _ in range(rounds)]
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    problems = [r["problem"] for r in runs if r["problem"]]
    good = [r for r in runs if not r["problem"]]
    return {
        "workers": workers,
        "rps": statistics.median(r["rps"] for r in good) if good else 0.0,
        "p99_ms": statistics.median(r["p99_ms"] for r in good if r["p99_ms"] is not None)
        if good else None,
        "rounds": [round(r["rps"]) for r in runs],
        "wrk_threads": threads,
        "connections": connections,
        "problems": problems,
    }


def run(quick: bool) -> dict[str, Any]:
    split = core_split()
    rounds, seconds, warmup = (1, 1, 0) if quick else (3, 5, 1)
    rows = [measure(n, rounds, seconds, warmup, split) for n in worker_counts(split[2], quick)]
    base = rows[0]["rps"] or 1.0
    for row in rows:
        row["ratio_to_one"] = round(row["rps"] / base, 3)
    result = {
        "cpu_count": os.cpu_count(),
        "pinned": split[0] is not None,
        "server_cores": split[0] or "all (not pinned)",
        "wrk_cores": split[1] or "all (not pinned)",
        "rounds": rounds,
        "seconds": seconds,
        "rows": rows,
    }
    sys.stdout.write(format_table(result) + "\n")
    sys.stdout.flush()
    return result


def format_table(result: dict[str, Any]) -> str:
    lines = [f"hello world by worker count ({result['cpu_count']} cores; server on "
             f"{result['server_cores']}, wrk on {result['wrk_cores']}; median of "
             f"{result['rounds']} x {result['seconds']} s)",
             f"{'workers':>7} {'req/s':>10} {'ratio':>6} {'p99 ms':>7}  rounds / problems"]
    for row in result["rows"]:
        p99 = f"{row['p99_ms']:.2f}" if row["p99_ms"] is not None else "-"
        note = ", ".join(row["problems"]) or " ".join(map(str, row["rounds"]))
        lines.append(f"{row['workers']:>7} {row['rps']:>10.0f} {row['ratio_to_one']:>6.2f} "
                     f"{p99:>7}  {note}")
    return "\n".join(lines)


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
