"""Running wrk and h2load, and reading what they measured.

Theory of operation: every wrk run gets a Lua script made of the scenario's request
setup followed by a shared `done()` hook that prints one machine-readable line
(`BENCH-RESULT {json}`) with the request count, duration, bytes read, every error
counter and the latency percentiles, so nothing depends on wrk's human-readable
units. h2load has no such hook; its summary lines are stable and parsed with regular
expressions. Both return a `LoadResult`; `validate()` turns the counters into a
reason to reject the run: any socket error, timeout, non-2xx status, or fewer body
bytes than the responses counted must have carried (the check that stops a server
from winning by answering short errors fast).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import pinned

WRK_REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""

PIPELINE_LUA = r"""
init = function(args)
  local depth = tonumber(args[1])
  local batch = {}
  for i = 1, depth do batch[i] = wrk.format(nil, wrk.path) end
  pipelined_requests = table.concat(batch)
end
request = function() return pipelined_requests end
"""

CLOSE_LUA = 'wrk.headers["Connection"] = "close"\n'


def upload_lua(size: int) -> str:
    return ('wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/octet-stream"\n'
            f'wrk.body = string.rep("x", {size})\n')


@dataclass
class LoadResult:
    requests: int = 0  # complete responses
    seconds: float = 0.0
    body_bytes: int = 0  # wrk: every byte read; h2load: DATA payload bytes
    errors: dict[str, int] = field(default_factory=dict)  # name -> count, all must be 0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p90, p99, p99.9
    protocol: str = ""  # h2load's negotiated protocol
    command: str = ""
    problem: str = ""  # set when the tool itself failed or its output made no sense

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def validate(result: LoadResult, min_body_bytes: int, protocol: str | None) -> str | None:
    """Why this run cannot count, or None when it can."""
    if result.problem:
        return result.problem
    if result.requests <= 0:
        return "no request completed"
    bad = {name: count for name, count in result.errors.items() if count}
    if bad:
        return "errors: " + ", ".join(f"{name}={count}" for name, count in sorted(bad.items()))
    # Every counted response carried at least the body; error pages are shorter.
    if result.body_bytes < result.requests * min_body_bytes:
        return (f"{result.body_bytes} bytes for {result.requests} responses: fewer than the "
                f"{min_body_bytes}-byte body each")
    if protocol is not None and result.protocol != protocol:
        return f"negotiated {result.protocol or 'nothing'!r}, expected {protocol!r}"
    return None


def _run_tool(command: list[str], timeout: float) -> tuple[str, str]:
    """(output, problem) of one load-generator run."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "", f"{command[0]} did not finish within {timeout:.0f} s"
    except FileNotFoundError:
        return "", f"{command[0]} is not installed"
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        return output, f"{Path(command[0]).name} exited {completed.returncode}: " + \
            " ".join(output.split())[-300:]
    return output, ""


def run_wrk(url: str, *, connections: int, seconds: int, core: int | None,
            lua: str = "", script_args: tuple[str, ...] = ()) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + WRK_REPORT_LUA)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", script.name, url]
    if script_args:
        command += ["--", *script_args]
    try:
        output, problem = _run_tool(pinned(command, core), timeout=seconds + 30)
    finally:
        Path(script.name).unlink()
    result = parse_wrk(output)
    result.command = " ".join(command).replace(script.name, "<scenario>.lua")
    result.problem = problem or result.problem
    return result


def parse_wrk(output: str) -> LoadResult:
    match = re.search(r"^BENCH-RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        return LoadResult(problem="wrk printed no result: " + " ".join(output.split())[-300:])
    data = json.loads(match.group(1))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        body_bytes=data["bytes"],
        errors={"connect": data["connect"], "read": data["read"], "write": data["write"],
                "timeout": data["timeout"], "non-2xx-or-3xx": data["status"]},
        latency_ms={"p50": data["p50_us"] / 1e3, "p90": data["p90_us"] / 1e3,
                    "p99": data["p99_us"] / 1e3, "p99.9": data["p999_us"] / 1e3},
    )


def run_h2load(url: str, *, clients: int, streams: int, seconds: int,
               core: int | None) -> LoadResult:
    command = ["h2load", "-t1", f"-c{clients}", f"-m{streams}", f"-D{seconds}", url]
    output, problem = _run_tool(pinned(command, core), timeout=seconds + 30)
    result = parse_h2load(output)
    result.command = " ".join(command)
    result.problem = problem or result.problem
    return result


def parse_h2load(output: str) -> LoadResult:
    finished = re.search(r"^finished in ([\d.]+)(m?s),", output, re.MULTILINE)
    counts = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", output, re.MULTILINE)
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx",
                      output, re.MULTILINE)
    traffic = re.search(r"^traffic: .*\((\d+)\) data", output, re.MULTILINE)
    protocol = re.search(r"^Application protocol: (\S+)", output, re.MULTILINE)
    if not (finished and counts and codes and traffic):
        return LoadResult(problem="h2load output not understood: "
                          + " ".join(output.split())[-300:])
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    failed, errored, timed_out = (int(counts.group(i)) for i in (5, 6, 7))
    return LoadResult(
        requests=int(counts.group(4)),
        seconds=seconds,
        body_bytes=int(traffic.group(1)),
        errors={"failed": failed, "errored": errored, "timeout": timed_out,
                "3xx": int(codes.group(2)), "4xx": int(codes.group(3)),
                "5xx": int(codes.group(4))},
        protocol=protocol.group(1) if protocol else "",
    )
