"""Data for the thesis network: band onsets as events, the real drummer's hit per event, patterns.

Input events: every band note-on (after the instrument selection), ordered by time, then
pitch; a chord is several events. Events whose onsets lie within HALF_STEP (1/24 beat,
half a step of the 12-per-beat grid) of the first event of a run form one onset *cluster*.

Target of an event (`event_targets`): each vocabulary drum hit (other GM drum notes folded
by `voice_of`) goes to the cluster whose onset is nearest to it, if that is within
TARGET_WINDOW (1/8 beat: half a sixteenth, also the tolerance of the eval's hit F1).
Per cluster, one hit per voice (the loudest) is kept; of those, as many as the cluster
has events, loudest first, are handed out in order of GM note number to the events in
order of pitch: the lowest band note gets the lowest drum (the kick before the snare
before the cymbals). Events left over are "rest" (class 22, velocity 0).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from livedrum.corpus import SourceFile, split_of
from livedrum.midifile import load_song
from livedrum.song import Notes, Song
from livedrum.thesis_model import REST, ThesisConfig, one_hot_inputs
from livedrum.vocab import DRUM_NOTES, voice_of

HALF_STEP = 1.0 / 24.0  # events closer than this to a cluster's first onset share its onset
TARGET_WINDOW = 1.0 / 8.0  # a drum hit belongs to an onset cluster this close (half a 16th)
DRUM_CHANNEL = 9


def band_events(song: Song, config: ThesisConfig | None = None) -> Notes:
    """The band notes that feed the network, in time then pitch order (instrument selection)."""
    band = song.band
    keep = band.channel != DRUM_CHANNEL
    if config is not None and config.families is not None:
        keep &= np.isin(band.program // 8, np.asarray(config.families))
    if config is not None and config.channels is not None:
        keep &= np.isin(band.channel, np.asarray(config.channels))
    return band.take(np.flatnonzero(keep)).sorted()


def onset_clusters(start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted onsets -> (cluster index of each event (N,), onset of each cluster (K,))."""
    cluster = np.zeros(len(start), dtype=np.int64)
    onsets: list[float] = []
    for i, t in enumerate(start):
        if not onsets or t - onsets[-1] > HALF_STEP:
            onsets.append(float(t))
        cluster[i] = len(onsets) - 1
    return cluster, np.asarray(onsets, dtype=np.float64)


def event_targets(events: Notes, drums: Notes) -> tuple[np.ndarray, np.ndarray]:
    """(N,) drum class (0..21 voice, 22 rest) and (N,) velocity (0 for rest) per band event."""
    n = len(events)
    classes = np.full(n, REST, dtype=np.int64)
    velocity = np.zeros(n, dtype=np.int64)
    if n == 0 or len(drums) == 0:
        return classes, velocity
    cluster, onsets = onset_clusters(events.start)
    voices = np.array([-1 if (v := voice_of(int(p))) is None else v for p in drums.pitch])
    ok = voices >= 0
    hit_t, hit_voice, hit_vel = drums.start[ok], voices[ok], drums.velocity[ok].astype(np.int64)
    # nearest cluster onset of every hit
    right = np.clip(np.searchsorted(onsets, hit_t), 0, len(onsets) - 1)
    left = np.clip(right - 1, 0, len(onsets) - 1)
    nearest = np.where(np.abs(onsets[left] - hit_t) <= np.abs(onsets[right] - hit_t), left, right)
    near = np.abs(onsets[nearest] - hit_t) <= TARGET_WINDOW
    per_cluster: dict[int, dict[int, int]] = {}  # cluster -> voice -> loudest velocity
    for k, v, vel in zip(nearest[near], hit_voice[near], hit_vel[near], strict=True):
        voices_here = per_cluster.setdefault(int(k), {})
        voices_here[int(v)] = max(voices_here.get(int(v), 0), int(vel))
    bounds = np.searchsorted(cluster, np.arange(len(onsets) + 1))
    for k, hits in per_cluster.items():
        members = np.arange(bounds[k], bounds[k + 1])
        members = members[np.argsort(events.pitch[members], kind="stable")]
        loudest = sorted(hits.items(), key=lambda kv: (-kv[1], DRUM_NOTES[kv[0]]))[: len(members)]
        in_pitch_order = sorted(loudest, key=lambda kv: DRUM_NOTES[kv[0]])
        for event, (voice, vel) in zip(members, in_pitch_order, strict=False):  # extra events rest
            classes[event], velocity[event] = voice, max(1, min(127, vel))
    return classes, velocity


def song_indices(song: Song, config: ThesisConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A whole song as (N, 2) input (pitch, velocity) and (N, 2) target (class, velocity) indices."""
    events = band_events(song, config)
    classes, velocity = event_targets(events, song.drums)
    inputs = np.stack([events.pitch.astype(np.int64), np.clip(events.velocity, 0, 127)], 1)
    return inputs.astype(np.int64).reshape(-1, 2), np.stack([classes, velocity], 1).reshape(-1, 2)


def prepare_indices(
    songs: Iterable[Song], config: ThesisConfig | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Songs -> (P, T, 2) input and (P, T, 2) target index patterns (compact form of `prepare`).

    Patterns start every `stride` events; a song's tail shorter than a pattern is left out.
    """
    config = config or ThesisConfig()
    T = config.pattern
    xs, ys = [], []
    for song in songs:
        x, y = song_indices(song, config)
        for s in range(0, len(x) - T + 1, config.stride):
            xs.append(x[s : s + T])
            ys.append(y[s : s + T])
    if not xs:
        return torch.zeros(0, T, 2, dtype=torch.long), torch.zeros(0, T, 2, dtype=torch.long)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def prepare(songs: Iterable[Song], config: ThesisConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Songs -> inputs (P, T, 256) float one-hots, targets (P, T, 2) long (drum class, velocity)."""
    x, y = prepare_indices(songs, config)
    return one_hot_inputs(x[..., 0], x[..., 1]), y


# ---- songs from the corpus ----------------------------------------------------------------


def load_songs(sources: Iterable[SourceFile], split: str | None = None) -> Iterator[Song]:
    """Songs with drums and band from `corpus.discover` sources, optionally only one split's.

    A file that cannot be used is skipped with a one-line reason on stderr.
    """
    for src in sources:
        if split is not None and split_of(src.song_id) != split:
            continue
        try:
            song = load_song(src.read_bytes(), name=src.label)
        except (ValueError, OSError) as exc:
            print(f"skipped {src.label}: {exc}", file=sys.stderr)
            continue
        if len(song.drums) == 0 or len(song.band) == 0:
            print(f"skipped {src.label}: no drums or no band", file=sys.stderr)
            continue
        yield song
