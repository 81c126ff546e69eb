"""The HPACK atheris harness (fuzz/fuzz_hpack.py) runs a short bounded session, and
its past findings stay fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "fuzz" / "fuzz_hpack.py"
SEEDS = ROOT / "fuzz" / "seeds-hpack"

try:
    import atheris  # noqa: F401
except ImportError:  # an environment limit (atheris has no wheel for this platform)
    atheris = None

# The harness fuzzes the compiled codec (HPACK has no pure-Python fallback): these tests
# are deselected under FASTHTTPD_NO_EXTENSIONS=1 (tests/unit/conftest.py).
pytestmark = pytest.mark.compiled


@pytest.mark.skipif(atheris is None, reason="atheris is not installed on this platform")
@pytest.mark.timeout(150)
def test_fuzz_hpack_short_run(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = subprocess.run(
        [sys.executable, str(HARNESS), str(corpus), str(SEEDS), "-runs=20000",
         "-max_total_time=60", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Done" in result.stderr
    assert not list(tmp_path.glob("crash-*"))


@pytest.mark.skipif(atheris is None, reason="atheris is not installed on this platform")
@pytest.mark.parametrize("finding", [
    # Our SETTINGS_HEADER_TABLE_SIZE 256, then a block without the size update
    # that must bring the peer's 4096 table down to it (hpack refused it, we did not).
    b"y?\xe1\x01/",
])
def test_fuzz_hpack_past_findings(tmp_path, finding):
    crash = tmp_path / "finding"
    crash.write_bytes(finding)
    result = subprocess.run([sys.executable, str(HARNESS), str(crash)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_hpack_seed_corpus_exists():
    assert len(list(SEEDS.iterdir())) >= 10
