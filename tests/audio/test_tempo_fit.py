"""The tempo-octave ranker's fit: it learns which candidates track better, from their F-measures."""

from __future__ import annotations

import numpy as np

from livedrum.audio.tempo import OCTAVE_FEATURES, beat_f_measure
from livedrum.audio.tempo_fit import SongCandidates, chosen_f, fit_ranker, leave_one_out, song_candidates
from tests.audio.test_tempo import HOP_S, clicks


def _songs(n: int, seed: int) -> list[SongCandidates]:
    """Songs whose better candidates have more onset energy on their beats (feature 2), the rest noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        feats = rng.normal(size=(4, len(OCTAVE_FEATURES)))
        f = 1 / (1 + np.exp(-3 * feats[:, 2])) + rng.normal(0, 0.02, 4)
        out.append(SongCandidates(f"song {i}", feats, f))
    return out


def test_the_ranker_learns_what_marks_the_better_candidate() -> None:
    songs, held = _songs(40, 0), _songs(40, 1)
    weights = fit_ranker(songs)
    assert int(np.argmax(np.abs(weights))) == 2 and weights[2] > 0
    best = np.mean([s.f_measure.max() for s in held])
    first = chosen_f(held, np.zeros(len(OCTAVE_FEATURES)))
    assert chosen_f(held, weights) > first + 0.5 * (best - first)
    assert leave_one_out(songs[:12], 10.0) > chosen_f(songs[:12], np.zeros(len(OCTAVE_FEATURES)))


def test_a_song_tracked_at_each_octave_is_scored_against_its_true_beats() -> None:
    beats = np.arange(0.5, 30.0, 0.5)
    song = song_candidates("clicks", clicks(beats, 31.0), HOP_S, 0.0, beats)
    assert song.features.shape == (len(song.f_measure), len(OCTAVE_FEATURES))
    assert song.f_measure[0] > 0.95  # the found tempo: the true one
    assert max(song.f_measure[1:]) < 0.7  # 2/3, 1.5, half and double the tempo track worse
    assert abs(beat_f_measure(beats, beats[::2]) - 2 / 3) < 0.01
