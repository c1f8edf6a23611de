"""A song as plain data: notes in beats, the tempo map and time signatures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livedrum.grid import TimeSignature


@dataclass
class Notes:
    """Notes as parallel arrays, times in quarter-note beats from the song's start."""

    start: np.ndarray  # (N,) float64 beats
    end: np.ndarray  # (N,) float64 beats
    pitch: np.ndarray  # (N,) int16
    velocity: np.ndarray  # (N,) int16, 1..127
    channel: np.ndarray  # (N,) int8, 0-based (drums are 9)
    program: np.ndarray  # (N,) int16, GM program at the note's start

    @classmethod
    def empty(cls) -> Notes:
        return cls.from_lists([], [], [], [], [], [])

    @classmethod
    def from_lists(cls, start, end, pitch, velocity, channel, program) -> Notes:  # noqa: ANN001
        notes = cls(
            np.asarray(start, dtype=np.float64),
            np.asarray(end, dtype=np.float64),
            np.asarray(pitch, dtype=np.int16),
            np.asarray(velocity, dtype=np.int16),
            np.asarray(channel, dtype=np.int8),
            np.asarray(program, dtype=np.int16),
        )
        return notes.sorted()

    def __len__(self) -> int:
        return len(self.start)

    def sorted(self) -> Notes:
        order = np.lexsort((self.pitch, self.start))
        return self.take(order)

    def take(self, index: np.ndarray) -> Notes:
        return Notes(
            self.start[index], self.end[index], self.pitch[index],
            self.velocity[index], self.channel[index], self.program[index],
        )

    def between(self, lo: float, hi: float) -> Notes:
        """Notes starting in [lo, hi)."""
        return self.take((self.start >= lo) & (self.start < hi))


@dataclass
class Song:
    """What a MIDI file holds that the drummer needs, all timed in beats."""

    name: str
    band: Notes
    drums: Notes
    tempos: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 500000)])
    time_signatures: list[TimeSignature] = field(default_factory=lambda: [TimeSignature(0.0)])
    ticks_per_beat: int = 480
    length_beats: float = 0.0

    def seconds_at(self, beats: np.ndarray | float) -> np.ndarray:
        """Wall-clock seconds of beat positions under the tempo map."""
        beats = np.asarray(beats, dtype=np.float64)
        starts = np.array([t[0] for t in self.tempos])
        spb = np.array([t[1] for t in self.tempos]) / 1e6
        seg_sec = np.concatenate([[0.0], np.cumsum(np.diff(starts) * spb[:-1])])
        i = np.clip(np.searchsorted(starts, beats, side="right") - 1, 0, len(starts) - 1)
        return seg_sec[i] + (beats - starts[i]) * spb[i]

    def bpm_at(self, beat: float) -> float:
        current = self.tempos[0][1]
        for b, us in self.tempos:
            if b <= beat:
                current = us
        return 60e6 / current
