"""The streaming analysis on rendered audio: onsets where the band's notes start, per register."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.audio.onsets import Analyzer
from livedrum.audio.source import analyse_file
from tests.audio.conftest import RenderedSong


def test_onsets_are_where_the_notes_start(band_audio: RenderedSong) -> None:
    analyzer = analyse_file(band_audio.audio, hop=256)
    found = np.array([o.time for o in analyzer.onsets])
    song = band_audio.song
    truth = np.unique(np.round(song.seconds_at(song.band.start), 3))
    near_truth = np.array([np.abs(truth - t).min() < 0.05 for t in found])
    recalled = np.array([np.abs(found - t).min() < 0.05 for t in truth])
    assert near_truth.mean() > 0.8 and recalled.mean() > 0.9


def test_block_size_does_not_change_the_analysis(band_audio: RenderedSong) -> None:
    import soundfile

    data, rate = soundfile.read(str(band_audio.audio), dtype="float32")
    mono = data.mean(axis=1)[: rate * 4]
    results = []
    for block in (64, 1000, len(mono)):
        a = Analyzer(rate, 256)
        for i in range(0, len(mono), block):
            a.feed(mono[i : i + block])
        results.append(([o.time for o in a.onsets], np.asarray(a.flux)))
    for times, flux in results[1:]:
        assert times == results[0][0]
        np.testing.assert_allclose(flux, results[0][1], rtol=1e-5)


def test_silence_and_garbage_are_harmless() -> None:
    a = Analyzer(48000, 256)
    assert a.feed(np.zeros(48000, np.float32)) == []
    noisy = np.full(4096, np.nan, np.float32)
    a.feed(noisy)
    assert np.isfinite(a.flux).all() and all(np.isfinite(level).all() for level in a.levels)


@pytest.mark.parametrize("kwargs", [{"hop": 512}, {"method": "nope"}, {"rate": 100}])
def test_bad_settings_are_one_clear_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Analyzer(**{"rate": 48000, **kwargs})


@pytest.mark.parametrize("offset", range(0, 256, 16))
def test_a_first_note_after_silence_is_found_wherever_it_starts_in_a_hop(offset: int) -> None:
    """A note that swells in (a piano, a pad) and starts near the end of a hop: that hop is under the
    silence gate, and the note must still be found at the next one. It was lost, and a drummer
    following a band through a microphone came in on the second note, an eighth late."""
    rate = 48000
    start = rate + offset
    t = np.arange(rate) / rate
    note = (0.2 * np.sin(2 * np.pi * 220 * t) * np.minimum(1.0, t / 0.02) ** 3 * np.exp(-t / 0.5)).astype(np.float32)
    audio = np.concatenate([np.zeros(start, np.float32), note])
    a = Analyzer(rate, 256, "flux")
    a.feed(audio)
    assert a.onsets, offset
    assert abs(a.onsets[0].time - start / rate) < 256 / rate + 0.001  # within the hop it entered
