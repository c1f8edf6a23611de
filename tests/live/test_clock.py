"""Musical time: beats to seconds and back, tempo changes that keep planned beats, taps."""

from __future__ import annotations

import pytest

from livedrum.live.clock import BeatClock, TapTempo, check_bpm


def test_beats_and_seconds_round_trip() -> None:
    clock = BeatClock(origin=100.0, bpm=120.0)
    assert clock.time_of(0) == 100.0
    assert clock.time_of(4) == pytest.approx(102.0)
    assert clock.beat_at(101.25) == pytest.approx(2.5)


def test_tempo_change_keeps_the_anchor_beat_in_place() -> None:
    clock = BeatClock(origin=0.0, bpm=120.0)
    before = clock.time_of(8)
    clock.set_tempo(60.0, at_beat=8)
    assert clock.time_of(8) == pytest.approx(before)
    assert clock.time_of(9) - clock.time_of(8) == pytest.approx(1.0)


@pytest.mark.parametrize("bpm", [0.0, 10.0, 400.0, float("nan")])
def test_unplayable_tempo_is_refused(bpm: float) -> None:
    with pytest.raises(ValueError, match="tempo"):
        check_bpm(bpm)
    with pytest.raises(ValueError):
        BeatClock(0.0, bpm)


def test_taps_give_the_median_interval_and_a_pause_starts_over() -> None:
    taps = TapTempo()
    assert taps.tap(10.0) is None
    assert taps.tap(10.5) == pytest.approx(120.0)
    taps.tap(11.0)
    assert taps.tap(11.9) == pytest.approx(120.0)  # one sloppy tap does not move the median
    assert taps.tap(20.0) is None  # a long pause: a new sequence
    assert taps.tap(21.0) == pytest.approx(60.0)


def test_taps_out_of_range_give_no_tempo() -> None:
    taps = TapTempo()
    taps.tap(0.0)
    assert taps.tap(0.05) is None  # 1200 BPM: a bounce, not a tempo
