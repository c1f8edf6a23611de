"""The audio beat tracker as the drummer's clock, and MIDI and audio heard together: a rendered band
through the file source (the same analysis as a sound card's), block by block as it would arrive."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from livedrum.audio.listener import AudioBand, MergedBand
from livedrum.audio.onsets import LIVE_METHOD, Analyzer
from livedrum.audio.source import FileSource
from livedrum.live.audiosync import AudioBeatSync
from livedrum.live.clock import BeatClock
from livedrum.live.listener import LiveBand
from tests.audio.conftest import render_band


def replay(path: Path, sync: AudioBeatSync | None, band: AudioBand | None) -> Analyzer:
    """The file through the analysis, as `AudioInput`'s worker runs it: envelope to the tracker, results to the band."""
    source = FileSource(path, block=256)
    analyzer = Analyzer(source.rate, 256, LIVE_METHOD)

    def sink(block: np.ndarray, _t: float) -> None:
        found = analyzer.feed(block)
        if sync is not None:
            sync.feed(list(analyzer.times), list(analyzer.flux))
        if band is not None:
            band.take(found, np.asarray(analyzer.times), np.asarray(analyzer.levels).reshape(-1, 4))
        analyzer.times.clear()
        analyzer.flux.clear()
        analyzer.levels.clear()

    source.play(sink)
    return analyzer


@pytest.fixture(scope="module")
def band104(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return render_band(tmp_path_factory.mktemp("audiosync"), "band104", 104.0, bars=8)


def test_the_tracker_finds_the_bands_tempo_and_beats(tmp_path: Path) -> None:
    song = render_band(tmp_path, "band134", 134.0, bars=10)
    truth = song.beat_times()
    sync = AudioBeatSync(256 / 44100, 120.0)
    assert sync.grid(0.0) is None  # before the drummer came in
    sync.begin(float(truth[0]), 120.0, 0.0)
    source = FileSource(song.audio, block=256)
    analyzer = Analyzer(source.rate, 256, LIVE_METHOD)
    grids = []  # (audio time, the grid the drummer would get then), about once a beat

    def sink(block: np.ndarray, t: float) -> None:
        analyzer.feed(block)
        sync.feed(list(analyzer.times), list(analyzer.flux))
        analyzer.times.clear()
        analyzer.flux.clear()
        analyzer.levels.clear()
        if round(t * source.rate) % (256 * 40) == 0:
            grids.append((t, sync.grid(t)))

    source.play(sink)
    # from the second half on: the band's tempo, and the next beats it predicts on the true ones (+-70 ms)
    late = [(t, g) for t, g in grids if truth[len(truth) // 2] < t < truth[-2]]
    assert late and all(g is not None and abs(g.bpm - 134.0) < 2.0 for _, g in late), late
    predicted = [g.time_of(np.ceil(g.beat_at(t))) for t, g in late]
    signed = np.asarray([p - truth[np.argmin(np.abs(truth - p))] for p in predicted])
    assert np.mean(np.abs(signed) < 0.07) > 0.8, np.round(signed, 3)
    # on the band's onsets, not on the envelope's peaks 3.5 hops later (the drums came 16-18 ms late)
    assert abs(np.median(signed)) < 0.010, np.round(signed, 3)


def test_a_tempo_from_the_musician_overrides_the_tracker(band104) -> None:  # noqa: ANN001
    sync = AudioBeatSync(256 / 44100, 120.0)
    sync.begin(0.0, 120.0, 0.0)
    sync.request_tempo(90.0)
    replay(band104.audio, sync, None)  # 104 BPM in the audio
    assert sync.grid(0.0).bpm == pytest.approx(90.0)
    with pytest.raises(ValueError):
        sync.request_tempo(400.0)


def test_midi_and_audio_heard_together(band104) -> None:  # noqa: ANN001
    audio = AudioBand()
    replay(band104.audio, None, audio)
    midi = LiveBand()
    clock = BeatClock(0.0, float(band104.song.bpm_at(0)))
    now = [0.0]
    both = MergedBand(midi, audio, now=lambda: now[0])
    alone = audio.window(clock, 4)
    assert alone.any()
    np.testing.assert_array_equal(both.window(clock, 4), alone)  # no MIDI: the audio's window
    t = clock.time_of(4.0)
    assert both.add(t, mido.Message("note_on", note=30, velocity=127))  # a low note, loud, on the beat
    merged = both.window(clock, 4)
    assert (merged >= alone).all() and merged[0, 0] == pytest.approx(1.0)
    assert both.last_onset == max(t, audio.last_onset)
    now[0] = 1e6
    both.holding = True  # the device is lost: the band counts as playing on
    assert both.silent_since(now[0]) == 0.0
    both.holding = False  # back
    both.reset()
    assert midi.notes == [] and audio.onsets == [] and both.last_onset is None
