"""The atheris harnesses under fuzz/ run a short bounded session from their seeds,
and past findings stay fixed.

Each fuzzes compiled code (the HTTP/1.1 parser against its fallback; HPACK and the
HTTP/2 core, which have no pure-Python twin), so the runs are deselected under
FASTHTTPD_NO_EXTENSIONS=1 (tests/unit/conftest.py). The WebSocket codec's harness
builds its seeds from frames: tests/unit/test_ws_codec_fuzz.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
# name -> (harness, seed folder, fewest seeds it ships with)
HARNESSES = {
    "parser": ("fuzz_parser.py", "seeds", 10),
    "hpack": ("fuzz_hpack.py", "seeds-hpack", 10),
    "h2_core": ("fuzz_h2_core.py", "seeds-h2core", 8),
}

try:
    import atheris  # noqa: F401
except ImportError:  # an environment limit (atheris has no wheel for this platform)
    atheris = None

needs_atheris = pytest.mark.skipif(atheris is None,
                                   reason="atheris is not installed on this platform")


def run_harness(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    harness = FUZZ / HARNESSES[name][0]
    return subprocess.run([sys.executable, str(harness), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.compiled
@needs_atheris
@pytest.mark.timeout(150)
@pytest.mark.parametrize("name", list(HARNESSES))
def test_fuzz_harness_short_run(name: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = run_harness(name, str(corpus), str(FUZZ / HARNESSES[name][1]), "-runs=20000",
                         "-max_total_time=60", f"-artifact_prefix={tmp_path}/", timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Done" in result.stderr
    assert not list(tmp_path.glob("crash-*"))


@pytest.mark.compiled
@needs_atheris
@pytest.mark.parametrize("name, finding", [
    # Our SETTINGS_HEADER_TABLE_SIZE 256, then a block without the size update
    # that must bring the peer's 4096 table down to it (hpack refused it, we did not).
    ("hpack", b"y?\xe1\x01/"),
])
def test_past_findings_stay_fixed(name: str, finding: bytes, tmp_path: Path) -> None:
    crash = tmp_path / "finding"
    crash.write_bytes(finding)
    result = run_harness(name, str(crash), timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize("name", list(HARNESSES))
def test_seed_corpus_exists(name: str) -> None:
    _, seeds, fewest = HARNESSES[name]
    assert len(list((FUZZ / seeds).iterdir())) >= fewest
