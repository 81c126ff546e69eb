"""The WebSocket codec's atheris harness runs: a short bounded session from a few seeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.ws_frames import binary, client_frame, close_frame, text

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "fuzz" / "fuzz_ws_codec.py"

try:
    import atheris  # noqa: F401
except ImportError:  # an environment limit (atheris has no wheel for this platform)
    atheris = None

SEEDS = [
    text("hello") + binary(bytes(10)) + close_frame(1000, b"bye"),
    text("a", fin=False) + client_frame(9, b"p") + client_frame(0, "é".encode()),
    binary(bytes(300)),
    client_frame(10, b"x") + text(b"\xed\xa0\x80"),
]


@pytest.mark.compiled
@pytest.mark.skipif(atheris is None, reason="atheris is not installed on this platform")
@pytest.mark.timeout(120)
def test_ws_fuzz_harness_short_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(SEEDS):
        # Options byte (0: no deflate, default size), no cut points, then the frames.
        (corpus / f"seed{index}").write_bytes(b"\x00\x00" + seed)
        (corpus / f"seed{index}-deflate-split").write_bytes(b"\x03\x02\x00\x03\x00\x07" + seed)
    result = subprocess.run(
        [sys.executable, str(HARNESS), str(corpus), "-runs=5000", "-max_total_time=60",
         f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Done" in result.stderr
    assert not list(tmp_path.glob("crash-*"))
