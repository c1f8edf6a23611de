"""Beat tracking on validation songs rendered to audio (drums removed): F-measure (+-70 ms) against the
MIDI's true beats, ours (whole file, as `accompany`: on the beat network's activation, and on the onset
envelope alone; streaming, as live) side by side with plain aubio.tempo;
how early or late the beats found are; and the bar lines `accompany` puts on its beats, F-measure
against the MIDI's bar lines.

    nice python benchmarks/beat_tracking.py --songs 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import aubio
import numpy as np

from livedrum.audio.accompany import beat_grid, find_beats
from livedrum.audio.beatnet import load_beatnet, shipped_beatnet
from livedrum.audio.rendered import AudioSong, pick_songs, render_band
from livedrum.audio.source import FileSource, analyse_file
from livedrum.audio.tempo import TOLERANCE_S, beat_f_measure, follow_beats
from livedrum.grid import bar_positions

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


def in_span(ref: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """The beats found within the band's span (beats tracked in a silent intro or tail are not scored)."""
    return beats[(beats >= ref[0] - 0.2) & (beats <= ref[-1] + 0.2)]


def within(ref: np.ndarray, beats: np.ndarray) -> float:
    """Beat F-measure over the band's span."""
    return beat_f_measure(ref, in_span(ref, beats))


def bar_f_measure(item: AudioSong, beats: np.ndarray, duration: float) -> float:
    """Bar-line F-measure (+-70 ms) of `accompany`'s grid (bars from the first beat found) against the song's."""
    band = item.song.band
    first, last = int(np.floor(band.start.min())), int(np.ceil(band.end.max()))
    _, beat_in_bar, _ = bar_positions(last + 1, item.song.time_signatures)
    downbeats = np.arange(first, last + 1)
    ref = item.song.seconds_at(downbeats[beat_in_bar[downbeats] == 0])
    times, pickup = beat_grid(beats, duration)
    est = times[pickup::4]
    return beat_f_measure(ref, est[(est >= ref[0] - 0.5) & (est <= ref[-1] + 0.5)])


def offsets(ref: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Signed seconds from each beat found to the nearest true beat, where within the F-measure's window."""
    beats = in_span(ref, beats)
    if len(beats) == 0 or len(ref) < 2:
        return np.zeros(0)
    i = np.clip(np.searchsorted(ref, beats), 1, len(ref) - 1)
    near = np.where(np.abs(ref[i] - beats) < np.abs(ref[i - 1] - beats), ref[i], ref[i - 1])
    err = beats - near
    return err[np.abs(err) <= TOLERANCE_S]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--songs", type=int, default=12)
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default=str(REPO / "cache" / "audio-validation"))
    ap.add_argument("--beatnet", help="beat network file (default: the shipped models/livedrum-beats.pt)")
    args = ap.parse_args()
    net = load_beatnet(Path(args.beatnet)) if args.beatnet else shipped_beatnet()
    if net is None:
        print("no beat network: the 'network' column repeats the onset tracker", file=sys.stderr)
    names = ("network", "onsets", "live", "aubio")
    rows, errors = [], {name: [] for name in names}
    print(f"{'song':48s} {'network':>7s} {'onsets':>6s} {'live':>6s} {'aubio':>6s} {'bars':>6s}")
    for label, blob, song in pick_songs(args.songs, args.data, "validation"):
        item = AudioSong(label, song, render_band(blob, Path(args.cache)))
        ref = item.beat_times()
        analyzer = analyse_file(item.audio)
        flux = np.asarray(analyzer.flux)
        found = {"network": find_beats(analyzer, net), "onsets": find_beats(analyzer, None),
                 "live": follow_beats(flux, analyzer.hop_s, analyzer.t0 - analyzer.flux_lag_s),
                 "aubio": aubio_beats(item.audio)}
        for name, beats in found.items():
            errors[name].append(offsets(ref, beats))
        scores = [within(ref, found[name]) for name in names]
        bars = bar_f_measure(item, found["network"], float(analyzer.times[-1]))
        rows.append((*scores, bars))
        print(f"{item.label[-48:]:48s} {scores[0]:7.3f} {scores[1]:6.3f} {scores[2]:6.3f} {scores[3]:6.3f} "
              f"{bars:6.3f}", flush=True)
    if not rows:
        print("no validation songs found", file=sys.stderr)
        return 1
    mean = np.mean(rows, axis=0)
    print(f"{'mean over ' + str(len(rows)) + ' songs':48s} {mean[0]:7.3f} {mean[1]:6.3f} {mean[2]:6.3f} "
          f"{mean[3]:6.3f} {mean[4]:6.3f}")
    print(f"against plain aubio: {100 * (mean[0] - mean[3]):+.1f} points (whole file, the beat network, as "
          f"accompany), {100 * (mean[1] - mean[3]):+.1f} (whole file, onset tracker), "
          f"{100 * (mean[2] - mean[3]):+.1f} (streaming, as live)")
    print("beats found, against the nearest true beat (within +-70 ms): median / p10 / p90 ms: " + "; ".join(
        f"{name} {' / '.join(f'{1000 * q:+.1f}' for q in np.quantile(np.concatenate(e), [0.5, 0.1, 0.9]))}"
        for name, e in errors.items() if sum(map(len, e))))
    print(f"bar lines of accompany (the network's beats): F {mean[4]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
