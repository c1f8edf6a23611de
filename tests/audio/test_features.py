"""Audio features against the MIDI features of the same song: same columns, same scales, same steps."""

from __future__ import annotations

import numpy as np

from livedrum.audio.features import BeatTimes, audio_band_features
from livedrum.audio.source import analyse_file
from livedrum.features import BAND_FEATURES, N_REGISTERS, band_features
from livedrum.grid import STEPS_PER_BEAT
from tests.audio.conftest import RenderedSong


def both(song: RenderedSong) -> tuple[np.ndarray, np.ndarray]:
    analyzer = analyse_file(song.audio)
    n_beats = int(song.song.length_beats)
    timeline = BeatTimes(song.beat_times())
    audio = audio_band_features(analyzer.onsets, np.asarray(analyzer.times), np.asarray(analyzer.levels),
                                timeline, n_beats * STEPS_PER_BEAT, calibrated=False)  # the analyser's own scales
    return audio, band_features(song.song.band, n_beats * STEPS_PER_BEAT)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_same_space_and_range(band_audio: RenderedSong) -> None:
    audio, midi = both(band_audio)
    assert audio.shape == midi.shape and audio.shape[1] == BAND_FEATURES
    assert np.isfinite(audio).all() and audio.min() >= 0 and audio.max() <= 1


def test_onsets_land_on_the_steps_of_the_notes(band_audio: RenderedSong) -> None:
    audio, midi = both(band_audio)
    a, m = audio[:, :N_REGISTERS].max(1) > 0, midi[:, :N_REGISTERS].max(1) > 0
    m_near = np.convolve(m, [1, 1, 1], "same") > 0
    a_near = np.convolve(a, [1, 1, 1], "same") > 0
    assert (a & m_near).sum() / a.sum() > 0.85  # audio onsets are where notes start (+-1 step)
    assert (m & a_near).sum() / m.sum() > 0.9  # and notes are heard


def test_columns_mean_the_same(band_audio: RenderedSong) -> None:
    audio, midi = both(band_audio)
    for r in (0, 3):  # bass and lead registers: the song plays there
        assert corr(audio[:, r], midi[:, r]) > 0.5
    assert corr(audio[:, -1], midi[:, -1]) > 0.7  # loudness
    assert corr(audio[:, N_REGISTERS], midi[:, N_REGISTERS]) > 0.3  # the bass sounding
    on = midi[:, -1] > 0
    assert abs(audio[on, -1].mean() - midi[on, -1].mean()) < 0.15  # loudness on the same scale


def test_timeline_round_trip() -> None:
    tl = BeatTimes([0.0, 0.5, 1.0, 1.6])
    beats = np.array([-1.0, 0.0, 0.25, 2.5, 3.0, 5.0])
    np.testing.assert_allclose(tl.beat_at(tl.time_of(beats)), beats)
    assert abs(float(tl.time_of(5.0)) - (1.6 + 2 * 0.6)) < 1e-9
