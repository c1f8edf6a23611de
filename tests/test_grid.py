"""Bars and beats on the grid: bar lengths, mixed meters, signature changes mid-bar."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.grid import STEPS_PER_BEAT, TimeSignature, bar_positions


def test_twelve_steps_hold_sixteenths_and_triplets():
    assert STEPS_PER_BEAT == 12
    for division in (1, 2, 3, 4, 6):  # quarter, eighth, eighth triplet, sixteenth, sixteenth triplet
        assert STEPS_PER_BEAT % division == 0


@pytest.mark.parametrize(
    "num, den, beats", [(4, 4, 4.0), (3, 4, 3.0), (6, 8, 3.0), (2, 2, 4.0), (7, 8, 3.5), (5, 4, 5.0)]
)
def test_bar_length_in_quarter_notes(num, den, beats):
    assert TimeSignature(0.0, num, den).bar_beats == beats


def test_default_is_four_four():
    bar, beat, length = bar_positions(10, [])
    assert bar.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert beat.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert length.tolist() == [4] * 10
    assert bar.dtype == beat.dtype == length.dtype == np.int32


def test_three_four_then_four_four():
    sigs = [TimeSignature(0.0, 3, 4), TimeSignature(6.0, 4, 4)]
    bar, beat, length = bar_positions(14, sigs)
    assert bar.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert beat.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3]
    assert length.tolist() == [3] * 6 + [4] * 8


def test_order_of_signatures_does_not_matter():
    sigs = [TimeSignature(6.0, 4, 4), TimeSignature(0.0, 3, 4)]
    a = bar_positions(14, sigs)
    b = bar_positions(14, sorted(sigs, key=lambda s: s.beat))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_a_change_mid_bar_cuts_the_bar_short():
    # 4/4 with 3/4 from beat 6: the second bar has only two beats, then 3/4 bars follow
    bar, beat, length = bar_positions(12, [TimeSignature(0.0, 4, 4), TimeSignature(6.0, 3, 4)])
    assert bar.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3]
    assert beat.tolist() == [0, 1, 2, 3, 0, 1, 0, 1, 2, 0, 1, 2]
    assert length.tolist() == [4] * 6 + [3] * 6


def test_first_signature_after_the_start_gets_four_four_before_it():
    bar, beat, length = bar_positions(10, [TimeSignature(4.0, 3, 4)])
    assert bar.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert beat.tolist() == [0, 1, 2, 3, 0, 1, 2, 0, 1, 2]
    assert length.tolist() == [4] * 4 + [3] * 6


def test_compound_meter_six_eight_has_three_beat_bars():
    bar, beat, length = bar_positions(7, [TimeSignature(0.0, 6, 8)])
    assert bar.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert beat.tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert set(length.tolist()) == {3}


def test_no_beats_gives_empty_arrays():
    bar, beat, length = bar_positions(0, [TimeSignature(0.0, 3, 4)])
    assert len(bar) == len(beat) == len(length) == 0


def test_bar_index_never_decreases_and_beats_stay_in_bar():
    sigs = [TimeSignature(0.0, 4, 4), TimeSignature(10.0, 7, 8), TimeSignature(17.0, 2, 4),
            TimeSignature(21.0, 6, 8)]
    bar, beat, length = bar_positions(60, sigs)
    assert (np.diff(bar) >= 0).all() and (np.diff(bar) <= 1).all()
    assert ((beat >= 0) & (beat < length)).all()
    starts = np.flatnonzero(np.diff(bar)) + 1
    assert (beat[starts] == 0).all()
