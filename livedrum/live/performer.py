"""From a decided drum window to notes in musical time: swing, intensity, note lengths.

The engine already applied humanize (the model's timing offsets, scaled). Swing then warps time
within each beat (the off-beat eighth moves towards the triplet position), and intensity scales
the velocities. With humanize 0 and swing 0 every note lies exactly on the 12-step grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedrum.engine import DrumWindow
from livedrum.feel import Feel, scale_velocity, swing_beat
from livedrum.grid import STEPS_PER_BEAT
from livedrum.perform import NOTE_BEATS, grid_to_notes

DRUM_CHANNEL = 9


@dataclass(frozen=True)
class DrumNote:
    start: float  # beats
    end: float  # beats
    note: int
    velocity: int  # 1..127


def window_notes(window: DrumWindow, feel: Feel) -> list[DrumNote]:
    """The notes of one window, in beats from the performance's beat 0."""
    notes = grid_to_notes(window.hits, window.velocity, window.offset, window.beat * STEPS_PER_BEAT)
    if len(notes) == 0:
        return []
    start = swing_beat(notes.start, feel.swing)
    velocity = scale_velocity(notes.velocity.astype(np.float64), feel.intensity)
    return [DrumNote(float(s), float(s) + NOTE_BEATS, int(p), int(v))
            for s, p, v in zip(start, notes.pitch, velocity)]
