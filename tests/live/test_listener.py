"""The live ear hears what offline rendering computes from the file, window by window."""

from __future__ import annotations

import mido
import numpy as np

from livedrum.live.clock import BeatClock
from livedrum.live.listener import LiveBand
from livedrum.live.sources import band_messages
from livedrum.midifile import load_song
from livedrum.perform import song_grid

S = 12


def test_live_windows_equal_the_offline_features(band_song) -> None:  # noqa: ANN001
    song = load_song(band_song)
    grid = song_grid(song)
    clock = BeatClock(origin=1000.0, bpm=song.bpm_at(0.0))
    band = LiveBand()
    messages = band_messages(song)
    i = 0
    for b in range(grid.n_beats):
        # everything heard up to half a step before window b+1 starts: when the daemon decides
        cutoff = clock.time_of(b + 1 - 0.5 / S)
        while i < len(messages) and clock.time_of(messages[i][0]) < cutoff:
            band.add(clock.time_of(messages[i][0]), messages[i][1])
            i += 1
        np.testing.assert_allclose(band.window(clock, b), grid.band[b * S : (b + 1) * S], atol=1e-6,
                                   err_msg=f"window {b}")


def test_drum_pads_and_note_offs_are_not_band_onsets() -> None:
    band = LiveBand()
    assert not band.add(0.0, mido.Message("note_on", channel=9, note=36, velocity=100))
    assert not band.add(0.1, mido.Message("note_off", channel=0, note=60))
    assert band.last_onset is None
    assert band.add(0.2, mido.Message("note_on", channel=0, note=60, velocity=90))
    assert band.last_onset == 0.2 and band.silent_since(1.2) == 1.0


def test_held_note_sounds_until_released() -> None:
    clock = BeatClock(0.0, 120.0)
    band = LiveBand()
    band.add(0.0, mido.Message("note_on", channel=0, note=40, velocity=100))
    sounding = band.window(clock, 3)[:, 4:8].sum()  # the sounding block, notes still held
    assert sounding > 0
    band.release_all(1.0)  # the port vanished at beat 2
    assert band.window(clock, 3)[:, 4:8].sum() == 0
