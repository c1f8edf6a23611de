"""Fills: at phrase ends, at half-phrases when the band builds up, and offline as live."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.features import BAND_FEATURES
from livedrum.fills import MIN_ENERGY, FillTiming, beat_energy
from livedrum.grid import STEPS_PER_BEAT
from livedrum.song import Notes, Song
from livedrum.vocab import KIT_PIECES

S = STEPS_PER_BEAT


def heard(timing: FillTiming, per_bar: list[float], bpb: int = 4) -> None:
    for energy in per_bar:
        for _ in range(bpb):
            timing.hear(energy / bpb)


def test_every_phrase_end_fills_whatever_the_band_does() -> None:
    timing = FillTiming(every=8)
    assert [bar for bar in range(24) if timing.due(bar, 4)] == [7, 15, 23]
    assert not any(FillTiming(every=0).due(bar, 4) for bar in range(16))


def test_a_band_building_up_brings_a_fill_halfway_through_the_phrase() -> None:
    steady, building = FillTiming(every=8), FillTiming(every=8)
    heard(steady, [8.0, 8.0, 8.0, 8.0])
    heard(building, [8.0, 8.0, 8.0, 12.0])
    assert not steady.due(3, 4)
    assert building.due(3, 4)  # bar 4 of 8 ends with a fill: the band rose in bar 3
    assert not building.due(2, 4)  # only at the half-phrase, not at any bar
    assert not building.due(4, 4)


def test_a_sparse_band_getting_less_sparse_is_no_rise() -> None:
    timing = FillTiming(every=8)
    heard(timing, [0.0, 0.0, 0.0, 0.9 * MIN_ENERGY * 4])
    assert not timing.due(3, 4)


def test_the_band_energy_is_its_loudness_over_the_beat() -> None:
    window = np.zeros((S, BAND_FEATURES), np.float32)
    assert beat_energy(window) == 0.0
    window[[0, 6], -1] = 0.5
    assert beat_energy(window) == pytest.approx(1.0)


def band(bars: int, louder_from_bar: int | None = None) -> Song:
    """Eighth-note chords on a bass and two keys; from `louder_from_bar` on, sixteenths and louder."""
    start, pitch, velocity = [], [], []
    for bar in range(bars):
        loud = louder_from_bar is not None and bar >= louder_from_bar
        step, vel = (0.25, 110) if loud else (0.5, 70)
        for k in np.arange(0, 4, step):
            for p in (40, 64, 67):
                start.append(bar * 4 + k)
                pitch.append(p)
                velocity.append(vel)
    start = np.array(start, dtype=np.float64)
    n = len(start)
    notes = Notes.from_lists(start, start + 0.2, pitch, velocity, [0] * n, [0] * n)
    return Song("band", notes, Notes.empty(), length_beats=bars * 4.0)


def play(song: Song, fill_every: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from livedrum.perform import ModelDrummer
    from tests.live.live_helpers import shipped_engine

    engine = shipped_engine(seed)
    drummer = ModelDrummer(engine.net, engine.sampling, seed)
    drummer.fill_every = fill_every
    notes = drummer(song)
    return notes.start, notes.pitch


def fill_share(start: np.ndarray, pitch: np.ndarray, beats: tuple[float, float]) -> float:
    """Toms and snare per beat within [beats)."""
    sel = (start >= beats[0]) & (start < beats[1])
    fills = np.isin(pitch, KIT_PIECES["toms"] + KIT_PIECES["snare"])
    return float((sel & fills).sum()) / (beats[1] - beats[0])


def test_accompany_fills_at_phrase_ends_and_lands_with_a_crash() -> None:
    start, pitch = play(band(9), fill_every=4)
    fill, groove = (14.0, 16.0), (0.0, 12.0)  # the last two beats of bar 4; the bars before
    assert fill_share(start, pitch, fill) >= 2 * max(fill_share(start, pitch, groove), 0.25)
    on_downbeat = pitch[np.abs(start - 16.0) < 1e-6]
    assert 49 in on_downbeat
    assert not np.isin(on_downbeat, KIT_PIECES["hihat"]).any()  # the right hand is on the crash
    # the groove: no crash landing before the fill, and the same drums as without fills up to it
    plain_start, plain_pitch = play(band(9), fill_every=0)
    before = start < 14.0
    assert np.array_equal(start[before], plain_start[plain_start < 14.0])
    assert np.array_equal(pitch[before], plain_pitch[plain_start < 14.0])


def test_accompany_fills_halfway_when_the_band_builds_up() -> None:
    rising = play(band(8, louder_from_bar=2), fill_every=8)  # heard in bar 3: fill at the end of bar 4
    steady = play(band(8), fill_every=8)
    half = (14.0, 16.0)  # the end of bar 4 of an 8-bar phrase
    assert 49 in rising[1][np.abs(rising[0] - 16.0) < 1e-6]
    assert 49 not in steady[1][np.abs(steady[0] - 16.0) < 1e-6]
    assert fill_share(*rising, half) > fill_share(*steady, half)


def test_accompany_with_fills_is_the_same_for_a_seed() -> None:
    a, b = play(band(9, louder_from_bar=3), 4, seed=5), play(band(9, louder_from_bar=3), 4, seed=5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
