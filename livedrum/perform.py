"""Drum along with a whole song on a virtual clock: the live engine, fed window by window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from livedrum.batches import bar_lengths_of
from livedrum.engine import DrumWindow, Engine
from livedrum.features import band_features, positions_for
from livedrum.feel import Feel, scale_velocity, swing_beat
from livedrum.grid import STEPS_PER_BEAT
from livedrum.model import DrumNet
from livedrum.sampler import Sampling
from livedrum.song import Notes, Song
from livedrum.styles import StyleBank
from livedrum.vocab import DRUM_NOTES

NOTE_BEATS = 0.125  # length of a generated drum note: hits, not held notes
Progress = Callable[[int, int], None]  # (windows done, windows in all)


@dataclass
class SongGrid:
    """A song's band on the step grid, as the engine hears it window by window."""

    band: np.ndarray  # (T, Fb)
    position: np.ndarray  # (T, P)
    bar_beats: np.ndarray  # (n_beats,)
    bpm: np.ndarray | None = None  # (n_beats,) the tempo of each beat, where the source knows it

    @property
    def n_beats(self) -> int:
        return len(self.bar_beats)


def song_grid(song: Song) -> SongGrid:
    n_beats = max(1, int(np.ceil(song.length_beats)))
    position, bar, beat_in_bar = positions_for(n_beats, song.time_signatures)
    band = band_features(song.band, n_beats * STEPS_PER_BEAT)
    bpm = np.array([song.bpm_at(float(b)) for b in range(n_beats)])
    return SongGrid(band, position, bar_lengths_of(bar, beat_in_bar), bpm)


def perform(grid: SongGrid, engine: Engine, progress: Progress | None = None,
            until_beat: int | None = None) -> list[DrumWindow]:
    """Every window of the song (up to `until_beat`), decided as live: hear beat b-1, then play beat b.
    `progress(done, total)` is told after each window (the studio page's progress bar)."""
    S = STEPS_PER_BEAT
    windows = []
    total = grid.n_beats if until_beat is None else max(0, min(grid.n_beats, until_beat))
    for b in range(total):
        if b > 0:
            bpm = None if grid.bpm is None else float(grid.bpm[b - 1])
            engine.hear(grid.band[(b - 1) * S : b * S], grid.position[(b - 1) * S : b * S], bpm)
        windows.append(engine.play(grid.position[b * S : (b + 1) * S], int(grid.bar_beats[b])))
        if progress is not None:
            progress(b + 1, total)
    return windows


def grid_to_notes(hits: np.ndarray, velocity: np.ndarray, offset: np.ndarray, first_step: int = 0) -> Notes:
    """Hits on the step grid (T, V), with velocity 0..1 and offset in steps, as drum notes in beats
    on channel 10; step 0 of the arrays is step `first_step` of the song."""
    steps, voices = np.nonzero(hits)
    start = np.maximum(0.0, (first_step + steps + offset[steps, voices].astype(np.float64)) / STEPS_PER_BEAT)
    pitch = np.asarray(DRUM_NOTES)[voices]
    vel = np.clip(np.rint(velocity[steps, voices].astype(np.float64) * 127), 1, 127)
    n = len(steps)
    return Notes.from_lists(start, start + NOTE_BEATS, pitch, vel, [9] * n, [0] * n)


def windows_to_notes(windows: list[DrumWindow]) -> Notes:
    """Drum hits of consecutive windows as notes in beats (channel 10), offsets applied."""
    if not windows:
        return Notes.empty()
    cat = np.concatenate
    first = windows[0].beat * STEPS_PER_BEAT
    return grid_to_notes(cat([w.hits for w in windows]), cat([w.velocity for w in windows]),
                         cat([w.offset for w in windows]), first)


class ModelDrummer:
    """A drummer for `evaluate` and `accompany`: the streaming engine over a whole song."""

    def __init__(
        self, net: DrumNet, sampling: Sampling, seed: int = 0, device: str | torch.device = "cpu",
        feel: Feel | None = None,
    ) -> None:
        self.net, self.sampling, self.seed, self.device = net, sampling, seed, device
        self.feel = feel or Feel()
        self.styles: StyleBank | None = None  # per-genre decoder weights (styles.py), already in `net`

    def __call__(self, song: Song, progress: Progress | None = None, until_beat: int | None = None) -> Notes:
        return self.play_grid(song_grid(song), progress, until_beat)

    def play_grid(self, grid: SongGrid, progress: Progress | None = None, until_beat: int | None = None) -> Notes:
        """Drum along with band features already on the grid (from MIDI, or from audio)."""
        engine = Engine(self.net, self.sampling, self.seed, self.device)
        notes = windows_to_notes(perform(grid, engine, progress, until_beat))
        if self.feel == Feel() or len(notes) == 0:
            return notes
        start = swing_beat(notes.start, self.feel.swing)
        velocity = scale_velocity(notes.velocity.astype(np.float64), self.feel.intensity)
        return Notes.from_lists(start, start + NOTE_BEATS, notes.pitch, velocity, notes.channel, notes.program)
