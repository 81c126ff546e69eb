"""The HTTP/2 core's atheris harness (fuzz/fuzz_h2_core.py) runs a short bounded session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "fuzz" / "fuzz_h2_core.py"
SEEDS = ROOT / "fuzz" / "seeds-h2core"

try:
    import atheris  # noqa: F401
except ImportError:  # an environment limit (atheris has no wheel for this platform)
    atheris = None


@pytest.mark.compiled  # fuzzes the compiled core (it has no pure-Python twin)
@pytest.mark.skipif(atheris is None, reason="atheris is not installed on this platform")
@pytest.mark.timeout(150)
def test_fuzz_h2_core_short_run(tmp_path: Path) -> None:
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


def test_h2_core_seed_corpus_exists() -> None:
    assert len(list(SEEDS.iterdir())) >= 8
