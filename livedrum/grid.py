"""Musical time: a grid of 12 steps per quarter-note beat, beat windows, bars."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS_PER_BEAT = 12  # holds sixteenths (3), eighth triplets (4), sixteenth triplets (2)


@dataclass(frozen=True)
class TimeSignature:
    """A time signature starting at `beat` (quarter notes from the song's start)."""

    beat: float
    numerator: int = 4
    denominator: int = 4

    @property
    def bar_beats(self) -> float:
        """Length of one bar in quarter-note beats (6/8 is 3 beats)."""
        return self.numerator * 4.0 / self.denominator


def bar_positions(
    n_beats: int, time_signatures: list[TimeSignature] | tuple[TimeSignature, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each whole beat 0..n_beats-1: (bar index, beat within bar, beats in that bar).

    A bar that a time-signature change cuts short ends where the new signature starts.
    """
    sigs = sorted(time_signatures, key=lambda s: s.beat) or [TimeSignature(0.0)]
    if sigs[0].beat > 0:
        sigs = [TimeSignature(0.0), *sigs]
    bar = np.zeros(n_beats, dtype=np.int32)
    beat_in_bar = np.zeros(n_beats, dtype=np.int32)
    bar_len = np.zeros(n_beats, dtype=np.int32)
    bar_idx, start, length = -1, 0.0, 4
    next_sig = 0
    for b in range(n_beats):
        while next_sig < len(sigs) and sigs[next_sig].beat <= b + 1e-6:
            start, length = float(b), max(1, round(sigs[next_sig].bar_beats))
            bar_idx += 1
            next_sig += 1
        pos = int(round(b - start))
        if pos >= length:
            start += length * (pos // length)
            bar_idx += pos // length
            pos = pos % length
        bar[b], beat_in_bar[b], bar_len[b] = bar_idx, pos, length
    return bar, beat_in_bar, bar_len
