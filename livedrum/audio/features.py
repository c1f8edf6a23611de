"""Audio onto the band's feature columns (`livedrum.features.band_features`), step for step.

The same columns and scales as MIDI, so one model serves both ears:
- onset velocity per register: an onset's flux in that register band (0..1, like velocity/127),
  on the step its time rounds to;
- sounding per register: the register's level over the step (0..1, like held notes / 4);
- onset chroma: the onset's flux per pitch class, peak 1, on its step;
- loudness: log1p(the onsets' summed register strength) / log1p(8), as MIDI sums velocities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from livedrum.audio import calibration
from livedrum.audio.onsets import Onset
from livedrum.features import BAND_FEATURES, N_REGISTERS
from livedrum.grid import STEPS_PER_BEAT

SOUNDING_SCALE = 1.0  # register level 0..1 -> sounding column 0..1


class Timeline(Protocol):
    """Beats <-> seconds: a live `BeatClock`, or the beats a tracker found in a file."""

    def time_of(self, beat: float) -> float: ...

    def beat_at(self, t: float) -> float: ...


class BeatTimes:
    """The beats a tracker found, as a timeline: linear between beats, the end tempi beyond."""

    def __init__(self, times: Sequence[float]) -> None:
        times = np.asarray(times, dtype=np.float64)
        if len(times) < 2 or not np.all(np.diff(times) > 0):
            raise ValueError("a timeline needs at least two increasing beat times")
        self.times = times

    def time_of(self, beat: float | np.ndarray) -> np.ndarray:
        b = np.asarray(beat, dtype=np.float64)
        t, n = self.times, len(self.times)
        inside = np.interp(b, np.arange(n), t)
        before = t[0] + b * (t[1] - t[0])
        after = t[-1] + (b - (n - 1)) * (t[-1] - t[-2])
        return np.where(b < 0, before, np.where(b > n - 1, after, inside))

    def beat_at(self, time: float | np.ndarray) -> np.ndarray:
        x = np.asarray(time, dtype=np.float64)
        t, n = self.times, len(self.times)
        inside = np.interp(x, t, np.arange(n, dtype=np.float64))
        before = (x - t[0]) / (t[1] - t[0])
        after = (n - 1) + (x - t[-1]) / (t[-1] - t[-2])
        return np.where(x < t[0], before, np.where(x > t[-1], after, inside))


def audio_band_features(onsets: Sequence[Onset], level_times: np.ndarray, levels: np.ndarray,
                        timeline: Timeline, n_steps: int, t0: float = 0.0, calibrated: bool = True) -> np.ndarray:
    """(n_steps, BAND_FEATURES) from onsets and per-hop register levels; step 0 at beat t0.

    level_times (H,) seconds, levels (H, N_REGISTERS) 0..1, as `Analyzer` keeps them. `calibrated`:
    mapped onto the MIDI features' distributions (`livedrum.audio.calibration`), as the model hears them."""
    out = np.zeros((n_steps, BAND_FEATURES), dtype=np.float32)
    if n_steps == 0:
        return out
    c0 = 2 * N_REGISTERS
    loud = np.zeros(n_steps, dtype=np.float32)
    for onset in onsets:
        step = int(np.rint((float(timeline.beat_at(onset.time)) - t0) * STEPS_PER_BEAT))
        if not 0 <= step < n_steps:
            continue
        np.maximum(out[step, :N_REGISTERS], onset.registers, out=out[step, :N_REGISTERS])
        np.maximum(out[step, c0 : c0 + 12], onset.chroma, out=out[step, c0 : c0 + 12])
        loud[step] += float(onset.registers.sum())
    out[:, -1] = np.log1p(loud) / np.log1p(8.0)
    if len(level_times):
        # a step spans half a step either side of its grid time: the mean level over that span
        edges = np.asarray(timeline.time_of(t0 + (np.arange(n_steps + 1) - 0.5) / STEPS_PER_BEAT))
        idx = np.searchsorted(level_times, edges)
        cum = np.concatenate([np.zeros((1, N_REGISTERS)), np.cumsum(levels, axis=0)])
        count = np.diff(idx)
        sums = cum[idx[1:]] - cum[idx[:-1]]
        mean = np.divide(sums, count[:, None], out=np.zeros_like(sums), where=count[:, None] > 0)
        out[:, N_REGISTERS : 2 * N_REGISTERS] = np.clip(mean * SOUNDING_SCALE, 0.0, 1.0)
    return calibration.apply(out, calibration.load()) if calibrated else out
