"""The audio feature calibration: audio columns mapped onto the MIDI columns' distributions."""

from __future__ import annotations

import numpy as np

from livedrum.audio import calibration
from livedrum.audio.features import BeatTimes, audio_band_features
from livedrum.audio.source import analyse_file
from livedrum.features import BAND_FEATURES, band_features
from livedrum.grid import STEPS_PER_BEAT
from tests.audio.conftest import RenderedSong


def test_the_shipped_calibration_loads_and_covers_every_column() -> None:
    cal = calibration.load()
    assert cal is not None and cal["method"] == "quantile"
    assert sorted(c for m in cal["maps"] for c in m["columns"]) == list(range(BAND_FEATURES))
    for m in cal["maps"]:
        assert m["audio"][0] == 0.0 and m["midi"][0] == 0.0
        assert np.all(np.diff(m["audio"]) > 0) and np.all(np.diff(m["midi"]) >= 0)


def test_fit_maps_quantiles_keeps_zeros_and_order() -> None:
    rng = np.random.default_rng(0)
    midi = np.where(rng.uniform(size=(4000, BAND_FEATURES)) < 0.3, rng.uniform(0.2, 1.0, (4000, BAND_FEATURES)), 0.0)
    audio = np.where(rng.uniform(size=midi.shape) < 0.6, rng.uniform(0.0, 0.5, midi.shape) ** 2, 0.0)
    cal = calibration.fit(audio, midi)
    out = calibration.apply(audio, cal)
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    assert np.all(out[audio == 0] == 0)  # no onset invented
    for c in (0, 7, 20):  # busier in audio than in MIDI: the weak values go to zero, the rest match
        assert abs((out[:, c] > 0).mean() - (midi[:, c] > 0).mean()) < 0.05
        assert abs(out[:, c].mean() - midi[:, c].mean()) < 0.03
        order = np.argsort(audio[:, c], kind="stable")
        assert np.all(np.diff(out[order, c]) >= -1e-6)  # monotone
    np.testing.assert_array_equal(calibration.apply(audio, None), audio)


def test_calibrated_audio_is_closer_to_midi_than_raw(band_audio: RenderedSong) -> None:
    analyzer = analyse_file(band_audio.audio)
    n_beats = int(band_audio.song.length_beats)
    timeline = BeatTimes(band_audio.beat_times())
    n_steps = n_beats * STEPS_PER_BEAT
    args = (analyzer.onsets, np.asarray(analyzer.times), np.asarray(analyzer.levels), timeline, n_steps)
    raw = audio_band_features(*args, calibrated=False)
    cooked = audio_band_features(*args)
    midi = band_features(band_audio.song.band, n_steps)
    gap_raw = np.abs(raw.mean(0) - midi.mean(0))
    gap_cooked = np.abs(cooked.mean(0) - midi.mean(0))
    assert gap_cooked.mean() < 0.8 * gap_raw.mean()
    assert gap_cooked.sum() < gap_raw.sum()
