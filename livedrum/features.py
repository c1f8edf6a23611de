"""Per-step features: what the drummer hears (band), where it is (position), what it plays (drums).

One feature space for two ears: every band feature here can also be computed from audio
(onset strength per register band, chroma of onsets, how much is sounding, loudness), so one
model serves MIDI and microphone input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedrum.grid import STEPS_PER_BEAT, TimeSignature, bar_positions
from livedrum.song import Notes, Song
from livedrum.vocab import N_VOICES, voice_of

# Register bands by MIDI pitch (C3=48 ~131 Hz, C4=60 ~262 Hz, C5=72 ~523 Hz).
REGISTER_EDGES = (48, 60, 72)
N_REGISTERS = len(REGISTER_EDGES) + 1
BAND_FEATURES = 2 * N_REGISTERS + 12 + 1  # onset velocity, sounding, onset chroma, loudness
POSITION_FEATURES = STEPS_PER_BEAT + 4 + 1 + 4 + 1  # step, beat, last beat, bar in phrase, 3-beat bar
PHRASE_BARS = 4


@dataclass
class SongArrays:
    """A song on the step grid: inputs and targets for the model, all (T, ...) with T = beats * 12."""

    band: np.ndarray  # (T, BAND_FEATURES) float32
    position: np.ndarray  # (T, POSITION_FEATURES) float32
    hits: np.ndarray  # (T, N_VOICES) bool
    velocity: np.ndarray  # (T, N_VOICES) float32 0..1, 0 where no hit
    offset: np.ndarray  # (T, N_VOICES) float32, hit time minus grid time in steps, -0.5..0.5
    bar: np.ndarray  # (n_beats,) int32 bar index of each beat
    beat_in_bar: np.ndarray  # (n_beats,) int32

    @property
    def n_beats(self) -> int:
        return len(self.bar)


def register_of(pitch: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(REGISTER_EDGES), pitch, side="right")


def band_features(notes: Notes, n_steps: int, t0: float = 0.0) -> np.ndarray:
    """Band notes -> (n_steps, BAND_FEATURES), step 0 at beat t0."""
    out = np.zeros((n_steps, BAND_FEATURES), dtype=np.float32)
    if len(notes) == 0 or n_steps == 0:
        return out
    reg = register_of(notes.pitch)
    vel = notes.velocity.astype(np.float32) / 127.0
    on = np.rint((notes.start - t0) * STEPS_PER_BEAT).astype(np.int64)
    ok = (on >= 0) & (on < n_steps)
    # onset velocity per register (max), onset chroma (velocity sum), loudness
    np.maximum.at(out[:, :N_REGISTERS], (on[ok], reg[ok]), vel[ok])
    chroma = np.zeros((n_steps, 12), dtype=np.float32)
    np.add.at(chroma, (on[ok], notes.pitch[ok] % 12), vel[ok])
    peak = chroma.max(axis=1, keepdims=True)
    out[:, 2 * N_REGISTERS : 2 * N_REGISTERS + 12] = np.divide(
        chroma, peak, out=np.zeros_like(chroma), where=peak > 0
    )
    loud = np.zeros(n_steps, dtype=np.float32)
    np.add.at(loud, on[ok], vel[ok])
    out[:, -1] = np.log1p(loud) / np.log1p(8.0)
    # how many notes are sounding per register, from onset to release (clipped at 4)
    off = np.rint((notes.end - t0) * STEPS_PER_BEAT).astype(np.int64)
    on_c, off_c = np.clip(on, 0, n_steps), np.clip(np.maximum(off, on + 1), 0, n_steps)
    delta = np.zeros((n_steps + 1, N_REGISTERS), dtype=np.float32)
    np.add.at(delta, (on_c, reg), 1.0)
    np.add.at(delta, (off_c, reg), -1.0)
    sounding = np.cumsum(delta[:-1], axis=0)
    out[:, N_REGISTERS : 2 * N_REGISTERS] = np.clip(sounding, 0, 4) / 4.0
    return out


def position_features(beat_in_bar: np.ndarray, bar_len: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """Where each step sits: step in beat, beat in bar, last beat, bar in a 4-bar phrase."""
    n_beats = len(beat_in_bar)
    out = np.zeros((n_beats, STEPS_PER_BEAT, POSITION_FEATURES), dtype=np.float32)
    out[:, np.arange(STEPS_PER_BEAT), np.arange(STEPS_PER_BEAT)] = 1.0
    o = STEPS_PER_BEAT
    out[np.arange(n_beats), :, o + np.minimum(beat_in_bar, 3)] = 1.0
    out[:, :, o + 4] = (beat_in_bar == bar_len - 1)[:, None]
    out[np.arange(n_beats), :, o + 5 + bar % PHRASE_BARS] = 1.0
    out[:, :, o + 9] = (bar_len == 3)[:, None]
    return out.reshape(n_beats * STEPS_PER_BEAT, POSITION_FEATURES)


def positions_for(n_beats: int, time_signatures: list[TimeSignature]) -> tuple[np.ndarray, ...]:
    """(position features, bar, beat_in_bar) for the first n_beats beats."""
    bar, beat_in_bar, bar_len = bar_positions(n_beats, time_signatures)
    return position_features(beat_in_bar, bar_len, bar), bar, beat_in_bar


def drum_targets(drums: Notes, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drum notes -> hits (bool), velocity (0..1) and offset (steps) per step and voice."""
    hits = np.zeros((n_steps, N_VOICES), dtype=bool)
    velocity = np.zeros((n_steps, N_VOICES), dtype=np.float32)
    offset = np.zeros((n_steps, N_VOICES), dtype=np.float32)
    exact = drums.start * STEPS_PER_BEAT
    step = np.rint(exact).astype(np.int64)
    for s, x, p, v in zip(step, exact, drums.pitch, drums.velocity):
        voice = voice_of(int(p))
        if voice is None or not 0 <= s < n_steps:
            continue
        vel = v / 127.0
        if vel >= velocity[s, voice]:
            hits[s, voice] = True
            velocity[s, voice] = vel
            offset[s, voice] = x - s
    return hits, velocity, offset


def song_arrays(song: Song) -> SongArrays:
    """A whole song on the grid, as the model trains on it."""
    n_beats = max(1, int(np.ceil(song.length_beats)))
    n_steps = n_beats * STEPS_PER_BEAT
    position, bar, beat_in_bar = positions_for(n_beats, song.time_signatures)
    hits, velocity, offset = drum_targets(song.drums, n_steps)
    return SongArrays(
        band=band_features(song.band, n_steps), position=position, hits=hits,
        velocity=velocity, offset=offset, bar=bar, beat_in_bar=beat_in_bar,
    )
