"""The live audio band: a rendered file replayed block by block gives the features offline analysis gives."""

from __future__ import annotations

import numpy as np

from livedrum.audio.features import BeatTimes, audio_band_features
from livedrum.audio.listener import AudioBand
from livedrum.audio.onsets import Analyzer
from livedrum.audio.source import FileSource, analyse_file
from livedrum.grid import STEPS_PER_BEAT
from livedrum.live.clock import BeatClock
from tests.audio.conftest import RenderedSong


def test_windows_match_the_offline_features(band_audio: RenderedSong) -> None:
    source = FileSource(band_audio.audio, block=256)
    analyzer = Analyzer(source.rate, 256)
    band = AudioBand()
    events: list[tuple[float, float]] = []
    band.on_onset.append(lambda t, s: events.append((t, s)))

    def sink(block: np.ndarray, t: float) -> None:  # what the capture callback hands to the loop
        before = len(analyzer.times)
        found = analyzer.feed(block)
        band.take(found, np.asarray(analyzer.times[before:]), np.asarray(analyzer.levels[before:]))

    source.play(sink)
    bpm = float(band_audio.song.bpm_at(0))
    clock = BeatClock(0.0, bpm)
    offline = analyse_file(band_audio.audio)
    n = 16
    whole = audio_band_features(offline.onsets, np.asarray(offline.times), np.asarray(offline.levels),
                                BeatTimes(band_audio.beat_times()), n * STEPS_PER_BEAT)
    live = np.concatenate([band.window(clock, b) for b in range(n)])
    np.testing.assert_allclose(live, whole, atol=2e-3)  # float rounding, through the calibration's steep maps
    assert len(events) == len(offline.onsets) and all(0 <= s <= 1 for _, s in events)
    assert band.silent_since(events[-1][0] + 1.0) == 1.0
    band.forget(events[-1][0] + 100.0)
    assert band.onsets == [] and len(band.level_times) == 0
