"""Turning a run into results: JSON, a Markdown report, a chart, the README section.

Theory of operation: `build()` assembles one JSON-ready dict (machine, versions,
settings, every cell with its rounds and medians, ratios, targets, microbenchmarks);
everything else is rendered from that dict alone, so a stored latest.json can be
re-rendered (`python -m bench.report bench/results/latest.json`). `write()` stores
latest.json/.md/.png plus timestamped copies of the JSON and Markdown, and, for a
full run, replaces the README's section between the bench markers (nothing else in
the README is touched).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.runner import Cell, headline_value, ratios
from bench.scenarios import REQUESTS_PER_SECOND, Scenario
from bench.servers import OURS

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"

# (scenario, peer, minimum advantage, strictly above it, wording) from issues 3 and 4.
TARGETS = [
    ("hello", "uvicorn", 2.0, False, "hello world at least 2.0x uvicorn"),
    ("hello", "granian", 1.5, False, "hello world at least 1.5x granian"),
    ("pipelined", "uvicorn", 3.0, False, "16-deep pipelining at least 3x uvicorn"),
    ("idle-memory", "uvicorn", 1.0, True,
     "idle keep-alive connections cost less memory than uvicorn"),
    ("h2c", "hypercorn", 2.5, False, "HTTP/2 (h2load -c32 -m16) at least 2.5x hypercorn"),
    # Issue 12.
    ("ws-echo-32", "uvicorn", 2.0, False, "WebSocket 32-byte echo at least 2x uvicorn"),
    ("ws-echo-32", "granian", 1.2, False, "WebSocket 32-byte echo at least 1.2x granian"),
    ("ws-echo-1k", "uvicorn", 2.0, False, "WebSocket 1 KiB x16 echo at least 2x uvicorn"),
    ("ws-echo-1k", "granian", 1.2, False, "WebSocket 1 KiB x16 echo at least 1.2x granian"),
    ("ws-idle-memory", "uvicorn", 1.0, True,
     "idle WebSockets cost less memory than uvicorn"),
]
# (microbenchmark module, result key, minimum ratio, wording) from issue 4.
MICRO_TARGETS = [
    ("bench.micro_h2", "ratio_driver_to_h2", 0.75,
     "HTTP/2 driver at least 75% of the h2 library alone (microbenchmark)"),
]


def build(*, scenarios: list[Scenario], cells: dict[str, dict[str, Cell]],
          servers: list[str], settings: dict[str, Any], machine: dict[str, Any],
          versions: dict[str, str], fasthttpd: dict[str, Any], commands: dict[str, Any],
          micro: dict[str, Any], started: str, finished: str,
          elapsed_s: float) -> dict[str, Any]:
    scenario_entries = []
    failures = []
    for scenario in scenarios:
        by_server = cells[scenario.key]
        for name, cell in by_server.items():
            if cell.status == "failed":
                failures.append({"scenario": scenario.key, "server": name,
                                 "reason": cell.reason})
        scenario_entries.append({
            "key": scenario.key,
            "title": scenario.title,
            "tool": scenario.tool,
            "headline": scenario.headline,
            "higher_is_better": scenario.higher_is_better,
            "commands": commands.get(scenario.key, {}),
            "results": {name: cell.as_json() for name, cell in by_server.items()},
            "headline_values": {name: headline_value(scenario, cell)
                                for name, cell in by_server.items()},
            "advantage": ratios(scenario, by_server),
        })
    results = {
        "schema": 1,
        "started": started,
        "finished": finished,
        "elapsed_s": round(elapsed_s, 1),
        "settings": settings,
        "machine": machine,
        "versions": versions,
        "fasthttpd": fasthttpd,
        "servers": servers,
        "scenarios": scenario_entries,
        "failures": failures,
        "micro": micro,
    }
    results["targets"] = evaluate_targets(results)
    return results


def _scenario(results: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((s for s in results["scenarios"] if s["key"] == key), None)


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each speed target met or not; a quick run judges none ("not judged")."""
    evaluated = []
    quick = bool(results["settings"].get("quick"))
    for key, peer, minimum, strictly, wording in TARGETS:
        entry = _scenario(results, key)
        value = None if entry is None else entry["advantage"].get(peer)
        if value is None:
            status = "not measured"
        elif value > minimum or (value == minimum and not strictly):
            status = "met"
        else:
            status = "not met"
        if quick:
            status = "not judged"
        if key == "idle-memory":
            wording += (f" (measured with {results['settings'].get('idle_connections'):,} "
                        "connections; the issue names 10,000)")
        evaluated.append({"scenario": key, "peer": peer, "minimum": minimum,
                          "target": wording, "advantage": value, "status": status})
    for module, key, minimum, wording in MICRO_TARGETS:
        outcome = results["micro"].get(module, {})
        value = outcome.get("result", {}).get(key) if outcome.get("status") == "ok" else None
        status = "not measured" if value is None else ("met" if value >= minimum else "not met")
        if quick:
            status = "not judged"
        evaluated.append({"micro": module, "key": key, "minimum": minimum, "target": wording,
                          "advantage": None if value is None else round(value, 3),
                          "status": status})
    return evaluated


# Markdown ------------------------------------------------------------------

def _number(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _cell_text(entry: dict[str, Any], name: str, digits: int = 0) -> str:
    result = entry["results"][name]
    if result["status"] == "unsupported":
        return "n/a"
    if result["status"] == "failed":
        return "failed"
    return _number(entry["headline_values"][name], digits)


def _advantage_text(entry: dict[str, Any], peer: str) -> str:
    if entry["results"][peer]["status"] == "unsupported":
        return "n/a"
    value = entry["advantage"].get(peer)
    return "" if value is None else f"{value:.2f}x"


def throughput_table(results: dict[str, Any]) -> str:
    servers = results["servers"]
    peers = [name for name in servers if name != OURS]
    # A quick run's one-second numbers are no basis for a ratio: none is shown.
    show_advantage = OURS in servers and not results["settings"].get("quick")
    header = ["scenario"] + servers + ([f"vs {peer}" for peer in peers] if show_advantage else [])
    lines = ["| " + " | ".join(header) + " |",
             "|---" + "|---:" * (len(header) - 1) + "|"]
    for entry in results["scenarios"]:
        if entry["headline"] != REQUESTS_PER_SECOND:
            continue
        row = [entry["title"]] + [_cell_text(entry, name) for name in servers]
        if show_advantage:
            row += [_advantage_text(entry, peer) for peer in peers]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cpu_table(results: dict[str, Any]) -> str:
    servers = results["servers"]
    lines = ["Server CPU use during the measured runs (% of one core, median; well below 100 "
             "means the server was waiting on the load generator or on other work):", "",
             "| scenario | " + " | ".join(servers) + " |",
             "|---" + "|---:" * len(servers) + "|"]
    rows = 0
    for entry in results["scenarios"]:
        cells = []
        for name in servers:
            result = entry["results"][name]
            value = result.get("median", {}).get("server_cpu_percent")
            cells.append("" if value is None else f"{value:.0f}")
        if any(cells):
            rows += 1
            lines.append(f"| {entry['key']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if rows else ""


def latency_table(results: dict[str, Any]) -> str:
    entry = _scenario(results, "latency")
    if entry is None:
        return ""
    lines = [f"Latency, {entry['title']} (milliseconds, medians over rounds):", "",
             "| server | requests/s | p50 | p90 | p99 | p99.9 |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in results["servers"]:
        result = entry["results"][name]
        if result["status"] != "ok":
            lines.append(f"| {name} | {result['status']} | | | | |")
            continue
        median = result["median"]
        latency = median["latency_ms"]
        lines.append(f"| {name} | {_number(median['requests_per_s'])} | {latency['p50']:.2f} | "
                     f"{latency['p90']:.2f} | {latency['p99']:.2f} | {latency['p99.9']:.2f} |")
    return "\n".join(lines)


def memory_table(results: dict[str, Any]) -> str:
    entry = _scenario(results, "idle-memory")
    if entry is None:
        return ""
    count = results["settings"].get("idle_connections")
    lines = [f"Memory (RSS of the server's process tree) with {count:,} idle keep-alive "
             "connections, each having made one request:", "",
             "| server | before (MiB) | with connections (MiB) | added (MiB) | "
             "per connection (KiB) |",
             "|---|---:|---:|---:|---:|"]
    for name in results["servers"]:
        result = entry["results"][name]
        if result["status"] != "ok":
            lines.append(f"| {name} | {result['status']} | | | |")
            continue
        median = result["median"]
        lines.append(f"| {name} | {median['baseline_mib']:.1f} | "
                     f"{median['with_connections_mib']:.1f} | {median['added_mib']:.1f} | "
                     f"{median['per_connection_kib']:.1f} |")
    return "\n".join(lines)


QUICK_VERDICT = ("- Speed: not judged. A quick run checks that every scenario runs against "
                 "every server; run `python -m bench` without --quick for numbers.")


def targets_list(results: dict[str, Any]) -> str:
    if results["settings"].get("quick"):
        return QUICK_VERDICT
    lines = []
    for target in results["targets"]:
        mark = {"met": "met", "not met": "NOT met", "not measured": "not measured",
                "not judged": "not judged (a quick run checks that everything runs, not speed)",
                }[target["status"]]
        measured = "" if target["advantage"] is None else f" (measured {target['advantage']:.2f}x)"
        lines.append(f"- {target['target']}: **{mark}**{measured}")
    return "\n".join(lines)


def _flatten(prefix: str, value: Any, into: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    elif isinstance(value, list) and all(isinstance(item, dict) and item for item in value):
        for index, item in enumerate(value):
            # Rows are named by their first field when it is a plain value (workers=2).
            first_key, first_value = next(iter(item.items()))
            label = (f"{first_key}={first_value}" if isinstance(first_value, (str, int))
                     else str(index))
            _flatten(f"{prefix}[{label}]", item, into)
    else:
        into.append((prefix, value))


def micro_section(results: dict[str, Any]) -> str:
    lines = []
    for module, outcome in results["micro"].items():
        status = outcome.get("status")
        if status != "ok":
            lines.append(f"- `{module}`: {status}: {outcome.get('reason', '')}".rstrip(": "))
            continue
        pairs: list[tuple[str, Any]] = []
        _flatten("", outcome["result"], pairs)
        ratio_pairs = [(k, v) for k, v in pairs if "ratio" in k or "speedup" in k]
        pairs = ratio_pairs or pairs  # the ratios are the point; the JSON has the rest
        shown = []
        for key, value in pairs:
            if isinstance(value, float):
                suffix = "x" if "ratio" in key or "speedup" in key else ""
                shown.append(f"{key} {value:,.2f}{suffix}")
            elif isinstance(value, (int, str)):
                shown.append(f"{key} {value}")
        lines.append(f"- `{module}`: " + "; ".join(shown))
    return "\n".join(lines)


def failures_list(results: dict[str, Any]) -> str:
    return "\n".join(f"- {f['server']} / {f['scenario']}: {f['reason']}"
                     for f in results["failures"])


def setup_text(results: dict[str, Any]) -> str:
    settings = results["settings"]
    machine = results["machine"]
    versions = results["versions"]
    ours = results["fasthttpd"]
    peers = ", ".join(f"{name} {versions.get(name, '?')}" for name in
                      ("uvicorn", "granian", "hypercorn"))
    mode = "quick" if settings["quick"] else "full"
    return (f"- Run: {mode}, {results['started']} ({results['elapsed_s']:.0f} s); "
            f"{settings['rounds']} interleaved round(s) of {settings['duration_s']} s per "
            f"server and scenario after a {settings['warmup_s']} s warm-up, medians; "
            f"{settings['pinning']}.\n"
            f"- Machine: {machine['cpu_model']}, {machine['usable_cores']} usable cores, "
            f"{machine['memory_gib']} GiB, Linux {machine['kernel']}, Python "
            f"{machine['python']}; load average {machine.get('load_average', '?')} at the "
            "start (other work on the machine shows up here).\n"
            f"- Servers: fasthttpd {str(ours['commit'])[:12]}"
            f"{' (with uncommitted changes)' if ours['uncommitted_changes'] else ''}, HTTP/1.1 "
            f"{ours['http1_implementation']}; {peers} (httptools {versions.get('httptools')}, "
            f"uvloop {versions.get('uvloop')}, h2 {versions.get('h2')}).\n- Tools: "
            f"{versions.get('wrk')}; {versions.get('h2load')}.")


def markdown_body(results: dict[str, Any], chart: str | None) -> str:
    parts = [setup_text(results),
             "Requests per second (median), and fasthttpd's advantage over each peer in the "
             "same run (above 1x: fasthttpd is better; for latency and memory, lower is "
             "better and the advantage is inverted accordingly):",
             throughput_table(results), latency_table(results), memory_table(results),
             cpu_table(results),
             "Speed targets (issues 3 and 4):", targets_list(results)]
    if chart:
        parts.append(f"![requests per second and latency by scenario and server]({chart})")
    if results["micro"]:
        parts += ["Microbenchmarks of the compiled parts against their baselines:",
                  micro_section(results)]
    if results["failures"]:
        parts += ["Runs that failed validation (no number given):", failures_list(results)]
    return "\n\n".join(part for part in parts if part) + "\n"


def markdown(results: dict[str, Any], chart: str | None) -> str:
    return "# fasthttpd benchmark results\n\n" + markdown_body(results, chart)


# Chart -----------------------------------------------------------------------

def chart(results: dict[str, Any], path: Path) -> str:
    """Write the PNG; the problem as text, or ''."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed"
    servers = results["servers"]
    throughput = [s for s in results["scenarios"] if s["headline"] == REQUESTS_PER_SECOND]
    latency = _scenario(results, "latency")
    memory = _scenario(results, "idle-memory")
    figure, axes = plt.subplots(3, 1, figsize=(12, 13),
                                gridspec_kw={"height_ratios": [3, 2, 2]})
    width = 0.8 / max(len(servers), 1)

    axis = axes[0]
    for index, name in enumerate(servers):
        values = [s["headline_values"].get(name) or 0 for s in throughput]
        positions = [i + index * width for i in range(len(throughput))]
        axis.bar(positions, values, width, label=name)
    axis.set_xticks([i + width * (len(servers) - 1) / 2 for i in range(len(throughput))])
    axis.set_xticklabels([s["key"] for s in throughput], rotation=20)
    axis.set_yscale("log")
    axis.set_ylabel("requests/s (log scale)")
    axis.set_title("Throughput by scenario (median; missing bar: unsupported or failed)")
    axis.legend()

    axis = axes[1]
    percentiles = ["p50", "p90", "p99", "p99.9"]
    if latency is not None:
        for index, name in enumerate(servers):
            result = latency["results"][name]
            values = ([result["median"]["latency_ms"][p] for p in percentiles]
                      if result["status"] == "ok" else [0] * len(percentiles))
            axis.bar([i + index * width for i in range(len(percentiles))], values, width,
                     label=name)
        axis.set_xticks([i + width * (len(servers) - 1) / 2 for i in range(len(percentiles))])
        axis.set_xticklabels(percentiles)
        axis.set_ylabel("milliseconds")
        axis.set_title(f"Latency, {latency['title']}")
        axis.legend()

    axis = axes[2]
    if memory is not None:
        values = [memory["headline_values"].get(name) or 0 for name in servers]
        axis.bar(servers, values, color=[f"C{i}" for i in range(len(servers))])
        axis.set_ylabel("MiB")
        axis.set_title(f"Memory added by {results['settings'].get('idle_connections'):,} idle "
                       "keep-alive connections (lower is better)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return ""


# Files -----------------------------------------------------------------------

def write(results: dict[str, Any], out: Path, readme: Path | None) -> list[Path]:
    """Store the results under `out`; update the README section when `readme` is given."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["started"].replace(":", "").replace("-", "")[:15]
    latest_json, latest_md, latest_png = (out / "latest.json", out / "latest.md",
                                          out / "latest.png")
    problem = chart(results, latest_png)
    if problem:
        results.setdefault("notes", []).append(f"chart not drawn: {problem}")
    latest_json.write_text(json.dumps(results, indent=2) + "\n")
    latest_md.write_text(markdown(results, None if problem else "latest.png"))
    written = [latest_json, latest_md] + ([] if problem else [latest_png])
    for source in (latest_json, latest_md):
        copy = out / f"{stamp}{source.suffix}"
        shutil.copyfile(source, copy)
        written.append(copy)
    if readme is not None:
        relative_chart = None if problem else _relative(latest_png, readme.parent)
        update_readme(readme, results, relative_chart, _relative(latest_md, readme.parent))
        written.append(readme)
    return written


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def readme_section(results: dict[str, Any], chart_path: str | None, report_path: str) -> str:
    return "\n".join([
        README_START,
        "## Benchmarks",
        "",
        "`python -m bench` runs the suite (wrk and h2load against uvicorn, granian and "
        "hypercorn, each in its own pinned process; it creates `.bench-venv` with the peers "
        "on first use); `python -m bench --quick` is the two-minute smoke run (results in a "
        "temporary folder, no speed verdict). Method: "
        "bench/runner.py; the full report, with every round: "
        f"[{report_path}]({report_path}) and its JSON.",
        "",
        markdown_body(results, chart_path).rstrip(),
        README_END,
    ]) + "\n"


def update_readme(readme: Path, results: dict[str, Any], chart_path: str | None,
                  report_path: str) -> None:
    text = readme.read_text()
    section = readme_section(results, chart_path, report_path)
    start, end = text.find(README_START), text.find(README_END)
    if start != -1 and end > start:
        rest = text[end + len(README_END):].lstrip("\n")
        text = text[:start] + section + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)


if __name__ == "__main__":
    stored = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    sys.stdout.write(markdown(json.loads(stored.read_text()), None))
