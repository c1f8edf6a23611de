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
from livedrum.fills import FILL_BEATS, FILL_CRASH, FillTiming, beat_energy, fill_sampling
from livedrum.grid import STEPS_PER_BEAT
from livedrum.model import DrumNet
from livedrum.sampler import Sampling
from livedrum.song import Notes, Song
from livedrum.styles import StyleBank
from livedrum.vocab import DRUM_NOTES, VOICE_OF_NOTE, piece_voices

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
            until_beat: int | None = None, fills: FillTiming | None = None) -> list[DrumWindow]:
    """Every window of the song (up to `until_beat`), decided as live: hear beat b-1, then play beat b.
    With `fills`, fills come where the live drummer's would: phrase ends and the band's rises, landing
    on the next downbeat with a crash. `progress(done, total)` is told after each window (the studio
    page's progress bar)."""
    S = STEPS_PER_BEAT
    windows = []
    total = grid.n_beats if until_beat is None else max(0, min(grid.n_beats, until_beat))
    bar = -1  # counted from the song's first downbeat (a pickup is not a bar)
    fill = (-1, -1)  # beats [start, end) of the fill planned, the crash at end
    for b in range(total):
        if b > 0:
            heard = grid.band[(b - 1) * S : b * S]
            if fills is not None:
                fills.hear(beat_energy(heard))
            bpm = None if grid.bpm is None else float(grid.bpm[b - 1])
            engine.hear(heard, grid.position[(b - 1) * S : b * S], bpm)
        position, bar_beats = grid.position[b * S : (b + 1) * S], int(grid.bar_beats[b])
        if position[0, S] == 1.0:  # a downbeat (beat 1 of its bar)
            bar += 1
            if fills is not None and fills.due(bar, bar_beats):
                fill = (b + bar_beats - min(FILL_BEATS, bar_beats), b + bar_beats)
        if fill[0] <= b < fill[1]:
            base = engine.sampling
            engine.sampling = fill_sampling(base)
            try:
                window = engine.play(position, bar_beats)
            finally:
                engine.sampling = base
        else:
            window = engine.play(position, bar_beats)
            if b == fill[1]:
                land_with_crash(window, engine.sampling.kit_off)
        windows.append(window)
        if progress is not None:
            progress(b + 1, total)
    return windows


def land_with_crash(window: DrumWindow, kit_off: frozenset[str]) -> None:
    """The crash that ends a fill, on the window's first step, in place of the hi-hat or ride there
    (a drummer's right hand is on the crash), unless the cymbals are switched off."""
    if "cymbals" in kit_off:
        return
    crash = VOICE_OF_NOTE[FILL_CRASH[0]]
    window.hits[0, piece_voices("hihat") + piece_voices("cymbals")] = False
    window.hits[0, crash] = True
    window.velocity[0, crash] = FILL_CRASH[1] / 127.0
    window.offset[0, crash] = 0.0


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
        self.fill_every = 0  # bars between automatic fills at phrase ends (the preset's), 0: none

    def __call__(self, song: Song, progress: Progress | None = None, until_beat: int | None = None) -> Notes:
        return self.play_grid(song_grid(song), progress, until_beat)

    def play_grid(self, grid: SongGrid, progress: Progress | None = None, until_beat: int | None = None) -> Notes:
        """Drum along with band features already on the grid (from MIDI, or from audio)."""
        engine = Engine(self.net, self.sampling, self.seed, self.device)
        fills = FillTiming(self.fill_every) if self.fill_every else None
        notes = windows_to_notes(perform(grid, engine, progress, until_beat, fills))
        if self.feel == Feel() or len(notes) == 0:
            return notes
        start = swing_beat(notes.start, self.feel.swing)
        velocity = scale_velocity(notes.velocity.astype(np.float64), self.feel.intensity)
        return Notes.from_lists(start, start + NOTE_BEATS, notes.pitch, velocity, notes.channel, notes.program)
