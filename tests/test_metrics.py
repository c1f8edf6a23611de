"""Hit F1, within-bar histograms and density on hand-made drum parts with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.grid import TimeSignature
from livedrum.metrics import (
    SongScores,
    count_matches,
    density_ratio,
    histogram_overlap,
    hit_f1,
    onset_histogram,
    score_song,
)
from livedrum.song import Notes

FOUR_FOUR = [TimeSignature(0.0, 4, 4)]


def drums(*hits: tuple[float, int]) -> Notes:
    """Drum notes from (onset in beats, GM note) pairs."""
    start = [t for t, _ in hits]
    return Notes.from_lists(
        start, [t + 0.1 for t in start], [p for _, p in hits], [100] * len(hits), [9] * len(hits),
        [0] * len(hits),
    )


def rock_bar(offset: float = 0.0, shift: float = 0.0) -> list[tuple[float, int]]:
    """One 4/4 bar of kick 1 3, snare 2 4, eighth hats, starting at `offset`, moved by `shift`."""
    bar = [(0.0, 36), (2.0, 36), (1.0, 38), (3.0, 38)] + [(i / 2, 42) for i in range(8)]
    return [(offset + t + shift, p) for t, p in bar]


def test_perfect_match_scores_one():
    ref = drums(*rock_bar(0), *rock_bar(4))
    assert hit_f1(ref, ref) == {"kick": 1.0, "snare": 1.0, "hihat": 1.0, "mean": 1.0}


def test_shift_within_tolerance_matches_and_beyond_does_not():
    ref = drums(*rock_bar())
    assert hit_f1(ref, drums(*rock_bar(shift=0.1)))["mean"] == 1.0
    assert hit_f1(ref, drums(*rock_bar(shift=-0.1)))["mean"] == 1.0
    assert hit_f1(ref, drums(*rock_bar(shift=0.125)))["mean"] == 1.0  # the edge is inside
    # 0.2 off: kicks and snares miss; hats miss too (0.2 from one, 0.3 from the next)
    assert hit_f1(ref, drums(*rock_bar(shift=0.2))) == {"kick": 0.0, "snare": 0.0, "hihat": 0.0, "mean": 0.0}


def test_class_absent_on_both_sides_is_none_and_left_out_of_mean():
    scores = hit_f1(drums((0, 36), (1, 36)), drums((0, 36)))
    assert scores["snare"] is None and scores["hihat"] is None
    assert scores["kick"] == pytest.approx(2 * 1 / 3)
    assert scores["mean"] == pytest.approx(2 / 3)
    assert hit_f1(Notes.empty(), Notes.empty()) == {"kick": None, "snare": None, "hihat": None, "mean": None}


def test_class_on_one_side_only_scores_zero():
    scores = hit_f1(drums((0, 36), (1, 38)), drums((0, 36)))
    assert scores["snare"] == 0.0
    assert scores["mean"] == pytest.approx(0.5)  # kick 1.0, snare 0.0
    assert hit_f1(drums((0, 36)), Notes.empty())["kick"] == 0.0


def test_partial_match_is_exact():
    ref = drums((0, 36), (1, 36), (2, 36), (3, 36))
    est = drums((0.05, 36), (2, 36), (1.5, 36), (3.5, 36))
    assert hit_f1(ref, est)["kick"] == pytest.approx(2 * 2 / 8)


def test_each_hit_matches_at_most_once():
    # two estimated kicks near one real kick: one match, one false positive
    assert hit_f1(drums((0, 36)), drums((0, 36), (0.1, 36)))["kick"] == pytest.approx(2 / 3)


def test_matching_is_optimal_not_nearest_first():
    # 0.12 is nearer to 0.2 than to 0.0, but pairing it with 0.0 leaves 0.2 for 0.3: two matches
    assert count_matches(np.array([0.0, 0.2]), np.array([0.12, 0.3]), 0.125) == 2
    assert count_matches(np.array([0.0, 1.0]), np.array([0.5]), 0.125) == 0


def test_notes_fold_into_classes_and_simultaneous_hits_count_once():
    # 35 and 36 together are one kick; clap 39 folds to snare; pedal hat 44 and open 46 are hi-hat
    ref = drums((0, 35), (0, 36), (1, 39), (2, 44), (2.5, 46))
    est = drums((0, 36), (1, 38), (2, 42), (2.5, 42))
    assert hit_f1(ref, est) == {"kick": 1.0, "snare": 1.0, "hihat": 1.0, "mean": 1.0}
    # toms and cymbals are not eval classes
    assert hit_f1(drums((0, 45), (0, 49)), drums((1, 45)))["mean"] is None


def test_histogram_bins_follow_the_meter():
    hits = drums((4.25, 36), (5.0, 38))
    hist = onset_histogram(hits, FOUR_FOUR)
    assert hist.shape == (48,)
    assert hist.sum() == pytest.approx(1.0)
    assert hist[3] == pytest.approx(0.5) and hist[12] == pytest.approx(0.5)
    waltz = onset_histogram(drums((3.0, 36), (4.0, 38)), [TimeSignature(0.0, 3, 4)])
    assert waltz.shape == (36,) and waltz[0] == 0.5 and waltz[12] == 0.5
    # 4/4 then 3/4 from beat 8: bins of the longest bar; the 3/4 bar's first beat is bin 0
    mixed = onset_histogram(drums((11.0, 36)), [TimeSignature(0.0), TimeSignature(8.0, 3, 4)])
    assert mixed.shape == (48,) and mixed[0] == 1.0
    assert onset_histogram(Notes.empty(), FOUR_FOUR).sum() == 0.0


def test_histogram_class_filter():
    hits = drums(*rock_bar())
    kicks = onset_histogram(hits, FOUR_FOUR, classes=["kick"])
    assert kicks[0] == 0.5 and kicks[24] == 0.5
    with pytest.raises(ValueError, match="unknown kit piece"):
        onset_histogram(hits, FOUR_FOUR, classes=["cowbell"])


def test_histogram_overlap_identical_and_disjoint():
    a = drums(*rock_bar(0), *rock_bar(4))
    assert histogram_overlap(a, a, FOUR_FOUR) == pytest.approx(1.0)
    # the same pattern a bar later sits on the same bar positions
    assert histogram_overlap(a, drums(*rock_bar(8)), FOUR_FOUR) == pytest.approx(1.0)
    on_beats = drums((0, 36), (1, 36), (2, 36), (3, 36))
    off_beats = drums((0.5, 42), (1.5, 42), (2.5, 42), (3.5, 42))
    assert histogram_overlap(on_beats, off_beats, FOUR_FOUR) == 0.0
    assert histogram_overlap(on_beats, Notes.empty(), FOUR_FOUR) == 0.0
    # half the mass shared
    half = drums((0, 36), (1, 36), (0.5, 42), (1.5, 42))
    assert histogram_overlap(on_beats, half, FOUR_FOUR) == pytest.approx(0.5)


def test_density_ratio_counts_vocabulary_notes():
    ref = drums(*rock_bar())  # 12 notes
    assert density_ratio(ref, ref) == 1.0
    assert density_ratio(ref, drums(*rock_bar(0), *rock_bar(4))) == 2.0
    assert density_ratio(ref, drums((0, 36), (0, 25), (0, 39))) == pytest.approx(2 / 12)  # 25 is no drum
    with pytest.raises(ValueError, match="no drum notes"):
        density_ratio(drums((0, 25)), ref)


def test_score_song_gathers_everything():
    ref = drums(*rock_bar(0), *rock_bar(4))
    scores = score_song(ref, drums(*rock_bar(0)), FOUR_FOUR)
    assert isinstance(scores, SongScores)
    assert scores.f1 == {c: pytest.approx(2 / 3) for c in ("kick", "snare", "hihat")}
    assert scores.mean_f1 == pytest.approx(2 / 3)
    assert scores.overlap == pytest.approx(1.0)
    assert scores.density == 0.5 and scores.ref_notes == 24 and scores.est_notes == 12
