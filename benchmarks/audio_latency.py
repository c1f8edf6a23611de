"""Onset-to-feature latency and CPU of the audio path at 48 kHz (hop 256): the live detector ("flux",
livedrum's causal one) beside the aubio detector it replaced live (before), and plain aubio.onset.

Latency of one onset = (end of the hop at which its features are ready - the note's true start)
+ the wall time that hop's analysis took. The input is a band song rendered through FluidSynth,
its true note starts from the MIDI file. CPU = analysis time / audio duration, one core. "false":
detections further than 50 ms from every true onset.

    nice python benchmarks/audio_latency.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import aubio
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livedrum.audio.onsets import Analyzer  # noqa: E402
from livedrum.midifile import load_song  # noqa: E402
from livedrum.render import read_audio, render_midi  # noqa: E402
from tests.conftest import write_band_song  # noqa: E402

RATE, HOP = 48000, 256


def latencies(ready: list[tuple[float, float]], truth: np.ndarray) -> np.ndarray:
    """For each true onset, the first detection within 60 ms after it: ready time minus true time."""
    out = []
    for t in truth:
        later = [r for when, r in ready if -0.01 <= when - t <= 0.06]
        if later:
            out.append(min(later) - t)
    return np.asarray(out)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        midi = write_band_song(Path(tmp) / "band.mid", bars=32, bpm=112, drums=False)
        data, rate = read_audio(render_midi(midi, Path(tmp) / "band.wav", rate=RATE))
        song = load_song(midi.read_bytes(), "band")
    truth = np.unique(np.round(song.seconds_at(song.band.start), 4))
    mono = data.mean(axis=1)
    n = len(mono) // HOP

    rows = []
    for name, method in (("livedrum flux onsets + features", "flux"),
                         ("before: aubio specflux + features", "specflux")):
        ours, ready, cost = Analyzer(rate, HOP, method), [], []
        for i in range(n):
            t0 = time.perf_counter()
            found = ours.feed(mono[i * HOP : (i + 1) * HOP])
            spent = time.perf_counter() - t0
            cost.append(spent)
            end = (i + 1) * HOP / rate
            ready += [(o.time, end + spent) for o in found]
        rows.append((name, ready, cost))

    plain, plain_ready, plain_cost = aubio.onset("specflux", 4 * HOP, HOP, rate), [], []
    for i in range(n):
        frame = np.ascontiguousarray(mono[i * HOP : (i + 1) * HOP])
        t0 = time.perf_counter()
        hit = plain(frame)[0]
        cost = time.perf_counter() - t0
        plain_cost.append(cost)
        if hit:
            plain_ready.append((plain.get_last_s(), (i + 1) * HOP / rate + cost))
    rows.append(("plain aubio.onset (no features)", plain_ready, plain_cost))

    duration = len(mono) / rate
    print(f"{len(truth)} true onsets, {duration:.0f} s of audio at {rate} Hz, hop {HOP} ({1000 * HOP / rate:.1f} ms)")
    print(f"{'':34s} {'p50 ms':>8s} {'p99 ms':>8s} {'found':>6s} {'false':>6s} {'CPU %':>6s} {'hop p99 us':>10s}")
    for name, ready, cost in rows:
        lat = latencies(ready, truth) * 1000
        false = sum(1 for when, _ in ready if np.abs(truth - when).min() > 0.05)
        print(f"{name:34s} {np.percentile(lat, 50):8.1f} {np.percentile(lat, 99):8.1f} {len(lat):6d} {false:6d} "
              f"{100 * sum(cost) / duration:6.2f} {1e6 * np.percentile(cost, 99):10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
