"""Training batches for truncated back-propagation through time.

Songs are laid end to end on parallel streams; each batch is the next chunk of several bars of
every stream, and the encoder state carries from one chunk to the next, reset where a new song
begins. So the model learns from state that has lived as long as it does on stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedrum.features import SongArrays
from livedrum.grid import STEPS_PER_BEAT


@dataclass
class TrainSong:
    """One song's arrays, plus the band one bar earlier at every step."""

    song_id: str
    collection: str
    arrays: SongArrays
    lag: np.ndarray  # (T, Fb + V + 1) one bar before each step: band, drums, drums-known flag
    bpm: float = 120.0  # the song's mean tempo (the groove selector hears tempo)

    @property
    def n_beats(self) -> int:
        return self.arrays.n_beats


@dataclass
class Batch:
    band: np.ndarray  # (B, K*S, Fb)
    position: np.ndarray  # (B, K*S, P)
    lag: np.ndarray  # (B, K*S, Fb + V + 1)
    prev_hits: np.ndarray  # (B, K*S, V) the drums of the step before
    hits: np.ndarray  # (B, K*S, V)
    velocity: np.ndarray
    offset: np.ndarray
    valid: np.ndarray  # (B, K*S) bool: inside a song
    reset: np.ndarray  # (B,) bool: a song starts with this chunk (or the stream is idle)


def bar_lengths(arrays: SongArrays) -> np.ndarray:
    """Beats in the bar of each beat of a song's arrays."""
    return bar_lengths_of(arrays.bar, arrays.beat_in_bar)


def bar_lengths_of(bar: np.ndarray, beat_in_bar: np.ndarray) -> np.ndarray:
    """Beats in the bar of each beat; the song's last, unfinished bar takes the previous bar's length."""
    length = np.zeros(len(bar), dtype=np.int64)
    bars = np.unique(bar)
    for b in bars:
        sel = bar == b
        length[sel] = beat_in_bar[sel].max() + 1
    if len(bars) > 1:
        last, before = bar == bars[-1], bar == bars[-2]
        length[last] = max(length[last][0], length[before][0])
    return length


def lagged_band(arrays: SongArrays) -> np.ndarray:
    """The band one bar earlier at each step (the bar length of the step's own bar)."""
    S = STEPS_PER_BEAT
    lag_steps = np.repeat(bar_lengths(arrays) * S, S)
    src = np.arange(len(arrays.band)) - lag_steps
    out = np.zeros_like(arrays.band)
    ok = src >= 0
    out[ok] = arrays.band[src[ok]]
    return out


def lagged_drums(arrays: SongArrays) -> np.ndarray:
    """(T, V + 1): the drums one bar earlier at each step, and per window a flag saying whether
    the drummer played anything in the bar before it (else the window must come from the band)."""
    S = STEPS_PER_BEAT
    bar_beats = bar_lengths(arrays)
    lag_steps = np.repeat(bar_beats * S, S)
    hits = arrays.hits.astype(np.float32)
    src = np.arange(len(hits)) - lag_steps
    out = np.zeros((len(hits), hits.shape[1] + 1), dtype=np.float32)
    ok = src >= 0
    out[ok, :-1] = hits[src[ok]]
    played = np.concatenate([[0], np.cumsum(hits.any(axis=1))])  # hits before each step
    beats = np.arange(arrays.n_beats)
    known = played[beats * S] - played[np.maximum(0, beats - bar_beats) * S] > 0
    out[:, -1] = np.repeat(known, S)
    out[:, :-1] *= out[:, -1:]  # nothing is remembered from a silent bar
    return out


def train_song(song_id: str, collection: str, arrays: SongArrays, bpm: float = 120.0) -> TrainSong:
    return TrainSong(song_id, collection, arrays, np.concatenate([lagged_band(arrays), lagged_drums(arrays)], 1), bpm)


def plan_streams(
    songs: list[TrainSong], n_streams: int, chunk_beats: int, rng: np.random.Generator,
    hours_cap: dict[str, float] | None = None, beats_per_hour: float = 7200.0,
) -> list[list[tuple[int, int]]]:
    """Assign a shuffled selection of songs to streams as (song index, chunk index) lists.

    `hours_cap` limits how much of each collection one epoch takes, so that no single
    collection dominates what the model learns.
    """
    order = rng.permutation(len(songs))
    taken: dict[str, float] = {}
    streams: list[list[tuple[int, int]]] = [[] for _ in range(n_streams)]
    for i in order:
        song = songs[i]
        hours = song.n_beats / beats_per_hour
        if hours_cap is not None:
            cap = hours_cap.get(song.collection, hours_cap.get("*", float("inf")))
            if taken.get(song.collection, 0.0) + hours > cap:
                continue
        taken[song.collection] = taken.get(song.collection, 0.0) + hours
        target = min(range(n_streams), key=lambda s: len(streams[s]))
        n_chunks = -(-song.n_beats // chunk_beats)
        streams[target].extend((int(i), c) for c in range(n_chunks))
    return streams


def song_lag_width(songs: list[TrainSong]) -> int:
    return songs[0].lag.shape[1]


def make_batch(
    songs: list[TrainSong], streams: list[list[tuple[int, int]]], j: int, chunk_beats: int
) -> Batch:
    """The j-th chunk of every stream."""
    S = STEPS_PER_BEAT
    L = chunk_beats * S
    B = len(streams)
    a0 = songs[0].arrays
    Fb, P, V = a0.band.shape[1], a0.position.shape[1], a0.hits.shape[1]
    band = np.zeros((B, L, Fb), np.float32)
    position = np.zeros((B, L, P), np.float32)
    lag = np.zeros((B, L, song_lag_width(songs)), np.float32)
    prev = np.zeros((B, L, V), np.float32)
    hits = np.zeros((B, L, V), np.float32)
    vel = np.zeros((B, L, V), np.float32)
    off = np.zeros((B, L, V), np.float32)
    valid = np.zeros((B, L), bool)
    reset = np.ones(B, bool)
    for b, stream in enumerate(streams):
        if j >= len(stream):
            continue
        i, c = stream[j]
        a, song = songs[i].arrays, songs[i]
        lo = c * L
        hi = min(lo + L, len(a.band))
        n = hi - lo
        reset[b] = c == 0
        band[b, :n] = a.band[lo:hi]
        position[b, :n] = a.position[lo:hi]
        lag[b, :n] = song.lag[lo:hi]
        hits[b, :n] = a.hits[lo:hi]
        vel[b, :n] = a.velocity[lo:hi]
        off[b, :n] = a.offset[lo:hi]
        prev[b, 1:n] = a.hits[lo : hi - 1]
        if lo > 0:
            prev[b, 0] = a.hits[lo - 1]
        valid[b, :n] = True
    return Batch(band, position, lag, prev, hits, vel, off, valid, reset)
