"""`python -m bench`: fasthttpd against uvicorn, granian and hypercorn.

Theory of operation: started with any Python, it first makes sure the bench
virtual environment exists (bench/environment.py) and re-executes itself there, so
the harness, the peers and fasthttpd's dependencies come from one known place.
Inside, it checks for wrk and h2load, builds fasthttpd's extensions in place, runs
the scenarios (bench/runner.py), then the other engineers' microbenchmarks
(bench/micro_*.py and bench/workers.py, each `run(quick) -> dict`, in a
subprocess pinned to the server core, absent ones reported as such), and writes
the results (bench/report.py). Exit status: 0 when every supported (scenario,
server) pair produced a validated number, 1 when some failed, 2 when the setup
(tools, environment) is missing.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import environment

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MICRO_MODULES = ["bench.micro_parser", "bench.micro_serializer", "bench.micro_asgi",
                 "bench.micro_h2", "bench.micro_hpack", "bench.workers"]
PINNED_MICRO = {"bench.micro_parser", "bench.micro_serializer", "bench.micro_asgi",
                "bench.micro_h2", "bench.micro_hpack"}


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    from bench.scenarios import BY_KEY
    from bench.servers import SERVERS

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: every scenario and server briefly (1 round of 1 s, "
                             "no warm-up, 300 idle connections); checks, never judges speed")
    parser.add_argument("--scenarios", default=",".join(BY_KEY),
                        help="comma-separated scenario keys (default: all): " + ", ".join(BY_KEY))
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated servers (default: all): " + ", ".join(SERVERS))
    parser.add_argument("--rounds", type=int, help="interleaved measured rounds (default 3; "
                        "quick 1)")
    parser.add_argument("--duration", type=int, help="seconds per measured run (default 5; "
                        "quick 1); wrk takes whole seconds")
    parser.add_argument("--warmup", type=int, help="seconds of unmeasured load before the "
                        "rounds (default 2; quick 0)")
    parser.add_argument("--idle-connections", type=int,
                        help="connections held open in idle-memory (default 5000; quick 300)")
    parser.add_argument("--out", type=Path,
                        help=f"results folder (default: {RESULTS_DIR} for a full run; a new "
                             "temporary folder for --quick, unless --publish); the README "
                             "section is updated only by a full run into the default folder")
    parser.add_argument("--publish", action="store_true",
                        help=f"with --quick, write into {RESULTS_DIR} (tracked) all the same")
    parser.add_argument("--no-micro", action="store_true", help="skip the microbenchmarks")
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    if arguments.out is None:
        # A smoke run leaves the checkout as it was: its numbers are not results.
        arguments.out = RESULTS_DIR if arguments.publish or not quick else Path(
            tempfile.mkdtemp(prefix="fasthttpd-bench-quick-"))
    arguments.rounds = arguments.rounds or (1 if quick else 3)
    arguments.duration = arguments.duration or (1 if quick else 5)
    arguments.warmup = arguments.warmup if arguments.warmup is not None else (0 if quick else 2)
    arguments.idle_connections = arguments.idle_connections or (300 if quick else 5000)
    for name in ("rounds", "duration", "idle_connections"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    arguments.scenario_list = _choose(parser, arguments.scenarios, list(BY_KEY), "scenario")
    arguments.server_list = _choose(parser, arguments.servers, list(SERVERS), "server")
    return arguments


def _choose(parser: argparse.ArgumentParser, text: str, known: list[str], what: str) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown or not chosen:
        parser.error(f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; "
                     f"known: {', '.join(known)}")
    return [item for item in known if item in chosen]  # canonical order, ours first


def reexec_in_venv(argv: list[str]) -> int:
    try:
        python = environment.ensure_venv(say)
    except (OSError, subprocess.CalledProcessError) as exc:
        say(f"could not prepare {environment.VENV_DIR}: {exc}")
        return 2
    env = environment.server_env()
    os.execve(str(python), [str(python), "-m", "bench", *argv], env)
    return 2  # not reached


def run_micro(quick: bool, core: int | None) -> dict[str, Any]:
    """Each microbenchmark module's run(quick), or why there is none."""
    from bench.servers import pinned

    outcomes: dict[str, Any] = {}
    timeout = 120 if quick else 900
    for module in MICRO_MODULES:
        if importlib.util.find_spec(module) is None:
            outcomes[module] = {"status": "not available",
                                "reason": f"{module.replace('.', '/')}.py does not exist yet"}
            continue
        say(f"{module}.run(quick={quick}) ...")
        code = ("import json, sys, " + module + " as m; r = m.run(" + str(quick) + "); "
                "sys.stdout.write('\\nMICRO-RESULT ' + json.dumps(r, default=str) + '\\n')")
        command = [sys.executable, "-c", code]
        if module in PINNED_MICRO:
            command = pinned(command, core)
        try:
            completed = subprocess.run(command, cwd=environment.REPO, env=environment.server_env(),
                                       capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            outcomes[module] = {"status": "failed", "reason": f"took over {timeout} s"}
            continue
        marker = [line for line in completed.stdout.splitlines()
                  if line.startswith("MICRO-RESULT ")]
        if completed.returncode != 0 or not marker:
            tail = " ".join((completed.stdout + completed.stderr).split())[-300:]
            outcomes[module] = {"status": "failed", "reason": f"exit {completed.returncode}: "
                                f"{tail}"}
            continue
        outcomes[module] = {"status": "ok",
                            "result": json.loads(marker[-1][len("MICRO-RESULT "):])}
    return outcomes


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not environment.running_in_bench_venv():
        # Only the standard library is importable for sure out here.
        return reexec_in_venv(argv)
    from bench import report
    from bench.runner import Options, Runner
    from bench.scenarios import BY_KEY
    from bench.servers import SERVERS

    arguments = parse_arguments(argv)

    problems = environment.missing_tools()
    if problems:
        for problem in problems:
            say(problem)
        return 2
    started_wall = datetime.datetime.now(datetime.UTC)
    started = time.monotonic()
    machine = environment.machine()  # before the run: its load average is other people's work
    build_problem = ""
    if "fasthttpd" in arguments.server_list:
        say("building fasthttpd's extensions in place ...")
        build_problem = environment.build_fasthttpd()
        if build_problem:
            say("warning: " + build_problem)
    server_core, load_core, pinning = environment.pick_cores()
    say(pinning)
    options = Options(quick=arguments.quick, scenarios=arguments.scenario_list,
                      servers=arguments.server_list, rounds=arguments.rounds,
                      duration=arguments.duration, warmup=arguments.warmup,
                      idle_connections=arguments.idle_connections,
                      server_core=server_core, load_core=load_core)
    runner = Runner(options, environment.REPO, environment.server_env(), say)
    scenarios = [BY_KEY[key] for key in arguments.scenario_list]
    cells = runner.run(scenarios)
    micro = {} if arguments.no_micro else run_micro(arguments.quick, server_core)
    fasthttpd = environment.fasthttpd_checkout()
    if build_problem:
        fasthttpd["build_problem"] = build_problem
    results = report.build(
        scenarios=scenarios, cells=cells, servers=arguments.server_list,
        settings={"quick": arguments.quick, "rounds": arguments.rounds,
                  "duration_s": arguments.duration, "warmup_s": arguments.warmup,
                  "idle_connections": arguments.idle_connections, "pinning": pinning,
                  "server_core": server_core, "load_core": load_core},
        machine=machine, versions=environment.versions(), fasthttpd=fasthttpd,
        commands=runner.commands, micro=micro,
        started=started_wall.strftime("%Y-%m-%dT%H:%M:%SZ"),
        finished=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        elapsed_s=time.monotonic() - started)
    full_default_run = not arguments.quick and arguments.out.resolve() == RESULTS_DIR.resolve() \
        and arguments.scenario_list == list(BY_KEY) and arguments.server_list == list(SERVERS)
    readme = environment.REPO / "README.md" if full_default_run else None
    written = report.write(results, arguments.out, readme)
    say("")
    say(report.throughput_table(results))
    say("")
    say(report.targets_list(results))
    if results["failures"]:
        say("")
        say("failed:")
        say(report.failures_list(results))
    say("")
    say(f"done in {time.monotonic() - started:.0f} s; wrote " + ", ".join(str(p) for p in written))
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
