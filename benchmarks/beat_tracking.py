"""Beat tracking on validation songs rendered to audio (drums removed): F-measure (+-70 ms) against the
MIDI's true beats, ours (whole-file, as `accompany`; streaming, as live) side by side with plain aubio.tempo.

    nice python benchmarks/beat_tracking.py --songs 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import aubio
import numpy as np

from livedrum.audio.rendered import corpus_audio
from livedrum.audio.source import FileSource, analyse_file
from livedrum.audio.tempo import beat_f_measure, follow_beats, track_beats
from livedrum.corpus import data_root

REPO = Path(__file__).resolve().parent.parent


def aubio_beats(path: Path, hop: int = 256) -> np.ndarray:
    """Plain aubio.tempo ("default" method, window 4 hops), as a user of aubio would run it."""
    source = FileSource(path)
    tracker = aubio.tempo("default", 4 * hop, hop, source.rate)
    beats: list[float] = []
    pending = [np.zeros(0, np.float32)]

    def sink(block: np.ndarray, t: float) -> None:
        data = np.concatenate([pending[0], block])
        n = len(data) // hop
        for i in range(n):
            if tracker(np.ascontiguousarray(data[i * hop : (i + 1) * hop]))[0]:
                beats.append(tracker.get_last_s())
        pending[0] = data[n * hop :]

    source.play(sink)
    return np.asarray(beats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--songs", type=int, default=12)
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default=str(REPO / "cache" / "audio-validation"))
    args = ap.parse_args()
    root = data_root(args.data)
    paths = [root / "midi" / name for name in ("beatles", "freedoom", "casio")]
    rows = []
    print(f"{'song':52s} {'ours':>6s} {'ours live':>9s} {'aubio':>6s}")
    for item in corpus_audio(paths, Path(args.cache), limit=args.songs):
        ref = item.beat_times()
        analyzer = analyse_file(item.audio)
        flux = np.asarray(analyzer.flux)
        ours = beat_f_measure(ref, track_beats(flux, analyzer.hop_s))
        live = beat_f_measure(ref, follow_beats(flux, analyzer.hop_s))
        plain = beat_f_measure(ref, aubio_beats(item.audio))
        rows.append((ours, live, plain))
        print(f"{item.label[-52:]:52s} {ours:6.3f} {live:9.3f} {plain:6.3f}", flush=True)
    if not rows:
        print("no validation songs found", file=sys.stderr)
        return 1
    mean = np.mean(rows, axis=0)
    print(f"{'mean over ' + str(len(rows)) + ' songs':52s} {mean[0]:6.3f} {mean[1]:9.3f} {mean[2]:6.3f}")
    print(f"ours - aubio: {100 * (mean[0] - mean[2]):+.1f} points (whole file), "
          f"{100 * (mean[1] - mean[2]):+.1f} points (streaming)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
