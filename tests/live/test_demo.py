"""`livedrum demo` end to end: the bundled band, played live through the real engine, into a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from livedrum.cli import main
from livedrum.live.cli import DEMO_BAND
from livedrum.metrics import hit_f1
from livedrum.midifile import load_song


def _demo(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "demo.mid"
    proc = subprocess.run([sys.executable, "-m", "livedrum", "demo", "--no-port", "--quiet", "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=120)
    return proc, out


def test_demo_plays_live_and_equals_offline_accompaniment(tmp_path: Path) -> None:
    bars = 4
    proc, out = _demo(tmp_path, "--bars", str(bars), "--humanize", "0")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and f"wrote {out}" in proc.stdout
    live = load_song(out)
    assert len(live.band) > 0 and len(live.drums) > 0
    steps = live.drums.start * 12
    assert np.abs(steps - np.rint(steps)).max() < 1e-6  # --humanize 0: exactly on the 12-step grid
    offline_path = tmp_path / "offline.mid"
    assert main(["accompany", str(DEMO_BAND), "-o", str(offline_path), "--humanize", "0"]) == 0
    offline = load_song(offline_path).drums.between(0.0, bars * 4.0)
    f1 = hit_f1(offline, live.drums.between(0.0, bars * 4.0))
    assert f1["mean"] >= 0.9, f1  # the same engine on a virtual clock and on a real one


def test_demo_with_a_broken_band_file_says_so_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    proc, out = _demo(tmp_path, "--band", str(bad))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("livedrum: error:")
