"""Real audio for the audio tests: band songs from `write_band_song`, rendered through FluidSynth."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from livedrum.midifile import load_song
from livedrum.render import render_midi
from livedrum.song import Song
from tests.conftest import write_band_song


@dataclass
class RenderedSong:
    midi: Path
    audio: Path
    song: Song

    def beat_times(self) -> np.ndarray:
        """The true beats, seconds, from the MIDI's tempo map."""
        return self.song.seconds_at(np.arange(int(self.song.length_beats) + 1))


def render_band(folder: Path, name: str, bpm: float, bars: int = 12, suffix: str = ".wav",
                rate: int = 44100) -> RenderedSong:
    if shutil.which("fluidsynth") is None:
        pytest.skip("needs the fluidsynth CLI and a General MIDI SoundFont")
    midi = write_band_song(folder / f"{name}.mid", bars=bars, bpm=bpm, drums=False)
    audio = render_midi(midi, folder / f"{name}{suffix}", rate=rate)
    return RenderedSong(midi, audio, load_song(midi.read_bytes(), midi.name))


@pytest.fixture(scope="session")
def band_audio(tmp_path_factory: pytest.TempPathFactory) -> RenderedSong:
    """12 bars at 104 BPM, no drums, as FLAC at 44.1 kHz."""
    return render_band(tmp_path_factory.mktemp("audio"), "band104", 104.0, suffix=".flac")
