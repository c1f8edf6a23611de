"""`livedrum accompany` on a 3-minute song, on one CPU core (goal: under 10 s).

    python benchmarks/accompany.py [--model PATH] [--runs 3]

Runs the real command in a fresh process pinned to one core (taskset), so start-up, model loading,
MIDI parsing and writing all count. Prints wall time per run, the median, and the speed against
real time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import write_band_song  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        song = write_band_song(Path(tmp) / "three-minutes.mid", bars=90, bpm=120, drums=False)  # 180 s
        cmd = [sys.executable, "-m", "livedrum", "accompany", str(song), "-o", str(Path(tmp) / "out.mid")]
        if args.model:
            cmd += ["--model", args.model]
        pin = ["taskset", "-c", "0"] if _has("taskset") else []
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(pin + cmd, check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print("accompany, 3-minute song (360 beats), one core: "
          + ", ".join(f"{t:.2f} s" for t in times) + f"; median {med:.2f} s = {180 / med:.0f}x real time")


def _has(tool: str) -> bool:
    return any((Path(p) / tool).exists() for p in os.environ.get("PATH", "").split(os.pathsep))


if __name__ == "__main__":
    main()
