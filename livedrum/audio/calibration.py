"""Audio features mapped onto the MIDI features' distributions, column by column (quantile mapping).

The model learnt the band from MIDI features. Audio features mean the same things but not on the
same scales: a rendered band's high register "sounds" nearly all the time (overtones), the middle
register's onsets are rarely told apart, onsets' flux is not a velocity. So each column gets a
monotone map, fitted on training songs rendered through a SoundFont with the audio features on the
true beat grid: the audio value at quantile p goes to the MIDI value at quantile p. Zero stays zero
(no onset is invented); a column busier in audio than in MIDI has its weakest values mapped to zero.
The 12 chroma columns share one map (pitch classes are alike). Per element, so it streams.

Refit (a few minutes; renders cached under cache/):
    nice python -m livedrum.audio.calibration --songs 40
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from livedrum.features import BAND_FEATURES, N_REGISTERS

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "data" / "audio-calibration.json"
QUANTILES = np.linspace(0.0, 1.0, 201)
CHROMA = slice(2 * N_REGISTERS, 2 * N_REGISTERS + 12)


def _groups() -> list[list[int]]:
    """Columns that share one map: each column alone, the chroma columns together."""
    chroma = list(range(BAND_FEATURES))[CHROMA]
    return [[c] for c in range(BAND_FEATURES) if c not in chroma] + [chroma]


def _knots(audio: np.ndarray, midi: np.ndarray) -> tuple[list[float], list[float]]:
    """(audio values, MIDI values) of one map: increasing audio knots from 0, MIDI values non-decreasing.

    Non-zero audio values at quantile p go to non-zero MIDI values at quantile p: an onset heard is
    a typical onset played (audio hears fewer onsets than MIDI has; they are not all the loudest).
    Where audio has more non-zero values than MIDI, its weakest ones go to zero first. Where many
    quantiles share one audio value (a clipped 1.0), it maps to their MIDI mean."""
    midi_on = midi[midi > 0]
    excess = float(np.mean(audio > 0)) - float(np.mean(midi > 0))
    floor = float(np.quantile(audio, 1.0 - float(np.mean(midi > 0)))) if excess > 0 else 0.0
    active = audio[audio > floor]
    if len(active) == 0 or len(midi_on) == 0:
        return [0.0], [0.0]
    qa = np.round(np.quantile(active, QUANTILES), 6)
    qm = np.quantile(midi_on, QUANTILES)
    values, group = np.unique(qa, return_inverse=True)
    means = np.bincount(group, weights=qm) / np.bincount(group)
    xs, ys = [0.0], [0.0]
    if floor > 0:
        xs, ys = [0.0, floor], [0.0, 0.0]
    for x, y in zip(values, means):
        if x > xs[-1]:
            xs.append(float(x))
            ys.append(max(float(y), ys[-1]))
    return xs, ys


def _rounded(xs: list[float], ys: list[float], digits: int = 5) -> dict:
    """Knots rounded for the JSON file, the audio values still strictly increasing."""
    ax, my = [round(xs[0], digits)], [round(ys[0], digits)]
    for x, y in zip(xs[1:], ys[1:]):
        if round(x, digits) > ax[-1]:
            ax.append(round(x, digits))
            my.append(round(y, digits))
        else:
            my[-1] = max(my[-1], round(y, digits)) if ax[-1] > 0 and my[-1] > 0 else my[-1]
    return {"audio": ax, "midi": my}


def fit(audio: np.ndarray, midi: np.ndarray) -> dict:
    """The maps from paired (T, BAND_FEATURES) audio and MIDI features of the same steps."""
    maps = []
    for cols in _groups():
        xs, ys = _knots(audio[:, cols].ravel(), midi[:, cols].ravel())
        maps.append({"columns": cols, **_rounded(xs, ys)})
    return {"method": "quantile", "maps": maps}


def apply(features: np.ndarray, calibration: dict | None) -> np.ndarray:
    """Features (T, BAND_FEATURES) through the maps; a copy, float32, within 0..1."""
    if not calibration:
        return features
    out = np.array(features, dtype=np.float32, copy=True)
    for m in calibration["maps"]:
        cols = m["columns"]
        x = out[:, cols]
        mapped = np.interp(x, m["audio"], m["midi"])
        out[:, cols] = np.where(x > 0, mapped, 0.0)
    return np.clip(out, 0.0, 1.0)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> dict | None:
    """The shipped calibration (None when the file is missing or unreadable: features stay raw)."""
    try:
        data = json.loads(Path(path or CALIBRATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("maps"), list):
        return None
    return data


def paired_features(audio_path: Path, song) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(raw audio features, MIDI features) of one rendered song, both on the song's true beat grid."""
    from livedrum.audio.features import BeatTimes, audio_band_features
    from livedrum.audio.source import analyse_file
    from livedrum.features import band_features
    from livedrum.grid import STEPS_PER_BEAT

    analyzer = analyse_file(audio_path)
    n_beats = int(np.ceil(song.length_beats))
    timeline = BeatTimes(song.seconds_at(np.arange(n_beats + 1, dtype=np.float64)))
    n_steps = n_beats * STEPS_PER_BEAT
    audio = audio_band_features(analyzer.onsets, np.asarray(analyzer.times), np.asarray(analyzer.levels),
                                timeline, n_steps, calibrated=False)
    return audio, band_features(song.band, n_steps)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from livedrum.audio.rendered import pick_songs, render_band

    ap = argparse.ArgumentParser(description="fit the audio feature calibration on rendered training songs")
    ap.add_argument("--songs", type=int, default=40)
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default="cache/audio-train")
    ap.add_argument("-o", "--output", default=str(CALIBRATION_FILE))
    args = ap.parse_args(argv)
    picked = pick_songs(args.songs, args.data, "train")
    audio, midi, labels = [], [], []
    for label, blob, song in picked:
        try:
            a, m = paired_features(render_band(blob, Path(args.cache)), song)
        except (ValueError, OSError, EOFError):
            continue
        audio.append(a)
        midi.append(m)
        labels.append(label)
        print(f"{len(labels):3d} {label}", flush=True)
    if not labels:
        raise SystemExit("no training songs could be rendered")
    cal = fit(np.concatenate(audio), np.concatenate(midi))
    cal["songs"] = len(labels)
    cal["steps"] = int(sum(len(a) for a in audio))
    Path(args.output).write_text(json.dumps(cal, separators=(",", ":")) + "\n")
    print(f"wrote {args.output}: {len(labels)} songs, {cal['steps']} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
