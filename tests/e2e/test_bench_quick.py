"""The benchmark suite's smoke run, and the checks that keep its numbers honest.

`python -m bench --quick` must run every scenario against every server (creating or
reusing .bench-venv with the peers from PyPI), exit 0, and give a validated number
for every (scenario, server) pair the server supports. Speed is never asserted here.
The other tests point the suite's validation at a real server that cheats (short
bodies, error statuses) and check that it gets no number.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import loadgen, report  # noqa: E402
from bench.__main__ import RESULTS_DIR, parse_arguments  # noqa: E402
from bench.apps import HELLO_BODY, JSON_BODY  # noqa: E402
from bench.probe import Probe, check  # noqa: E402
from bench.scenarios import BY_KEY  # noqa: E402
from bench.servers import SERVERS  # noqa: E402

QUICK_RUN_TIMEOUT = 300  # venv creation on a clean machine plus the two-minute run


def tracked_changes() -> str:
    """`git status` of the tracked files: what a run changed in the checkout."""
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=True).stdout


@pytest.mark.slow
@pytest.mark.timeout(QUICK_RUN_TIMEOUT + 30)
def test_quick_run_gives_a_number_for_every_supported_pair() -> None:
    before = tracked_changes()
    completed = subprocess.run([sys.executable, "-m", "bench", "--quick"],
                               cwd=ROOT, capture_output=True, text=True,
                               timeout=QUICK_RUN_TIMEOUT)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    # The checkout is as it was (bench/results and the README are tracked), and the
    # output says where the results went instead, and that speed was not judged.
    assert tracked_changes() == before
    wrote = next(line for line in completed.stdout.splitlines() if "; wrote " in line)
    tmp_path = Path(wrote.split("; wrote ", 1)[1].split(", ")[0]).parent
    assert ROOT not in tmp_path.parents, tmp_path
    assert report.QUICK_VERDICT in completed.stdout
    assert "**met**" not in completed.stdout and "NOT met" not in completed.stdout

    results = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.md").read_text().startswith("# fasthttpd benchmark results")
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [entry["key"] for entry in results["scenarios"]] == list(BY_KEY)
    assert results["servers"] == list(SERVERS)
    for entry in results["scenarios"]:
        feature = BY_KEY[entry["key"]].feature
        for name, spec in SERVERS.items():
            result = entry["results"][name]
            if feature not in spec.features:
                assert result["status"] == "unsupported"
                continue
            assert result["status"] == "ok", (entry["key"], name, result.get("reason"))
            assert entry["headline_values"][name] > 0, (entry["key"], name)
    assert results["failures"] == []
    assert results["fasthttpd"]["http1_implementation"] == "compiled"


class CheatingServer:
    """Answers every HTTP/1.1 request at once with a fixed response, on 127.0.0.1."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            self._loop.create_server(lambda: _FixedAnswer(self.response), "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def __enter__(self) -> CheatingServer:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class _FixedAnswer(asyncio.Protocol):
    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # requests without bodies only
            _, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self.transport.write(self.response)


def _response(status: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


@pytest.fixture
def short_body_server() -> Iterator[CheatingServer]:
    with CheatingServer(_response(b"200 OK", b"Hi")) as server:
        yield server


@pytest.fixture
def error_server() -> Iterator[CheatingServer]:
    with CheatingServer(_response(b"500 Internal Server Error", HELLO_BODY)) as server:
        yield server


@pytest.mark.timeout(30)
def test_validation_rejects_responses_shorter_than_the_body(
        short_body_server: CheatingServer) -> None:
    url = f"http://127.0.0.1:{short_body_server.port}/"
    result = loadgen.run_wrk(url, connections=4, seconds=1, core=None)
    assert result.requests > 0 and not result.problem
    # wrk's byte count includes the heads, so the check is a lower bound that bites on
    # bodies larger than a head: a server answering the 1 KiB JSON scenario with "Hi".
    reason = loadgen.validate(result, min_body_bytes=len(JSON_BODY), protocol=None)
    assert reason is not None and "fewer than" in reason
    assert "differs" in (check(Probe("/json", JSON_BODY), short_body_server.port, None) or "")


@pytest.mark.timeout(30)
def test_validation_rejects_error_statuses(error_server: CheatingServer) -> None:
    url = f"http://127.0.0.1:{error_server.port}/"
    result = loadgen.run_wrk(url, connections=4, seconds=1, core=None)
    reason = loadgen.validate(result, min_body_bytes=len(HELLO_BODY), protocol=None)
    assert reason is not None and "non-2xx" in reason
    assert "status 500" in (check(Probe("/", HELLO_BODY), error_server.port, None) or "")


# Where results go, and what a quick run says about speed (no run needed).
def test_quick_run_writes_outside_the_checkout_unless_asked_to_publish() -> None:
    quick = parse_arguments(["--quick"]).out
    assert quick.is_dir() and not any(quick.iterdir())
    assert ROOT not in quick.resolve().parents
    quick.rmdir()
    assert parse_arguments(["--quick", "--publish"]).out == RESULTS_DIR
    assert parse_arguments([]).out == RESULTS_DIR
    assert parse_arguments(["--quick", "--out", "/tmp/x"]).out == Path("/tmp/x")


def test_quick_results_give_no_speed_verdict() -> None:
    # The published full run, read back as if it had been a quick one.
    results = json.loads((RESULTS_DIR / "latest.json").read_text())
    full_verdicts = {t["status"] for t in report.evaluate_targets(results)}
    assert full_verdicts & {"met", "not met"}  # a full run judges
    assert "vs uvicorn" in report.throughput_table(results)
    results["settings"]["quick"] = True
    assert {t["status"] for t in report.evaluate_targets(results)} == {"not judged"}
    results["targets"] = report.evaluate_targets(results)
    assert report.targets_list(results) == report.QUICK_VERDICT
    assert "vs " not in report.throughput_table(results)
    assert "**met**" not in report.markdown(results, None)
