"""Where the benchmark runs: its virtual environment, the tools, the machine.

Theory of operation: the suite runs inside its own virtual environment,
`.bench-venv` at the repository root (git-ignored, created without the system
site-packages so that the peers' versions are the ones PyPI serves today). The
first `python -m bench` creates it and installs the peers and the harness's
needs; later runs reuse it when its marker file lists the same requirements.
fasthttpd itself is not installed there: its compiled extensions are built in
place with that interpreter and the checkout is put on PYTHONPATH, so the servers
run exactly the working tree, compiled. wrk and h2load are system tools, checked
and explained when missing. The machine and every version are recorded with the
results, since ratios are only comparable on a known setup.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_DIR = REPO / ".bench-venv"
MARKER = VENV_DIR / "bench-requirements.txt"
REQUIREMENTS = [
    "uvicorn[standard]",  # brings httptools and uvloop, also fasthttpd's own dependencies
    "granian",
    "hypercorn",
    "h2",
    "httpx[http2]",
    "psutil",
    "trustme",
    "matplotlib",
    "Cython>=3,<4",
    "setuptools>=68",
]
TOOLS = {"wrk": "wrk", "h2load": "nghttp2-client"}  # command -> Debian package
SERVER_DISTRIBUTIONS = ["uvicorn", "granian", "hypercorn", "httptools", "uvloop", "h2",
                        "websockets", "httpx", "matplotlib"]


def venv_python() -> Path:
    return VENV_DIR / "bin" / "python"


def running_in_bench_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def ensure_venv(say: Callable[[str], None]) -> Path:
    """The bench interpreter, creating or completing its environment when needed."""
    wanted = "\n".join(REQUIREMENTS) + "\n"
    python = venv_python()
    if python.exists() and MARKER.exists() and MARKER.read_text() == wanted:
        return python
    if not python.exists():
        say(f"creating {VENV_DIR} ...")
        venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(VENV_DIR)
    say("installing " + ", ".join(REQUIREMENTS) + " ...")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *REQUIREMENTS], check=True)
    MARKER.write_text(wanted)
    return python


def build_fasthttpd() -> str:
    """Build the compiled extensions in place; the problem as text, or ''."""
    try:
        completed = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
                                   cwd=REPO, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return "build_ext took longer than 15 minutes"
    if completed.returncode != 0:
        return "build_ext failed: " + " ".join((completed.stdout + completed.stderr).split())[-400:]
    return ""


def missing_tools() -> list[str]:
    """Install hints for the load generators that are not on PATH."""
    missing = [command for command in TOOLS if not _on_path(command)]
    if not missing:
        return []
    packages = " ".join(TOOLS[command] for command in missing)
    return [f"{', '.join(missing)} not found: install with `apt-get install {packages}` "
            "(Debian/Ubuntu) or your system's package manager"]


def _on_path(command: str) -> bool:
    return any(os.access(Path(folder) / command, os.X_OK)
               for folder in os.environ.get("PATH", "").split(os.pathsep) if folder)


def server_env() -> dict[str, str]:
    """Environment of the servers and helpers: the checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env.pop("FASTHTTPD_NO_EXTENSIONS", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def pick_cores() -> tuple[int | None, int | None, str]:
    """(server core, load core, note): two distinct cores when taskset and two CPUs exist."""
    if not _on_path("taskset"):
        return None, None, "taskset not found: processes are not pinned"
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None, "fewer than two usable cores: processes are not pinned"
    return cores[0], cores[1], f"server on core {cores[0]}, load generator on core {cores[1]}"


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    text = (completed.stdout + completed.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_gib() -> float | None:
    try:
        import psutil
        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return None


def machine() -> dict[str, object]:
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": _memory_total_gib(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "load_average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for distribution in SERVER_DISTRIBUTIONS:
        try:
            found[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            found[distribution] = "not installed"
    # wrk prints its version on an unknown option; -v is the documented one.
    found["wrk"] = _first_line(["wrk", "-v"]).split(" Copyright")[0]
    found["h2load"] = _first_line(["h2load", "--version"])
    found["gcc"] = _first_line(["gcc", "--version"])  # builds bench/ws_load.c
    return found


def fasthttpd_checkout() -> dict[str, object]:
    """Which fasthttpd was measured: commit, uncommitted changes, HTTP/1.1 implementation."""
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                             "--untracked-files=no", "--", "fasthttpd"],
                            capture_output=True, text=True).stdout
    probe = subprocess.run([sys.executable, "-c",
                            "import fasthttpd.http1 as h; print(h.IMPLEMENTATION)"],
                           cwd=REPO, env=server_env(), capture_output=True, text=True)
    implementation = probe.stdout.strip() if probe.returncode == 0 else (
        "import failed: " + " ".join(probe.stderr.split())[-200:])
    return {"commit": commit, "uncommitted_changes": bool(status.strip()),
            "http1_implementation": implementation}
