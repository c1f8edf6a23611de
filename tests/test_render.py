"""SoundFont rendering and mixing with the real fluidsynth CLI and a real Debian SoundFont."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from livedrum import render
from livedrum.render import find_soundfont, mix_audio, read_audio, render_midi, render_mix
from tests.conftest import write_band_song

pytestmark = pytest.mark.skipif(render.shutil.which("fluidsynth") is None, reason="needs the fluidsynth CLI")


def drums_only(path: Path, beats: int = 8, bpm: float = 120.0) -> Path:
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)])
    for b in range(beats):
        track.append(mido.Message("note_on", channel=9, note=38, velocity=120, time=0 if b == 0 else 440))
        track.append(mido.Message("note_off", channel=9, note=38, velocity=0, time=40))
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def test_find_soundfont_env_and_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf2 = tmp_path / "mine.sf2"
    sf2.write_bytes(b"RIFF")
    monkeypatch.setenv("LIVEDRUM_SOUNDFONT", str(sf2))
    assert find_soundfont() == sf2
    monkeypatch.setenv("LIVEDRUM_SOUNDFONT", str(tmp_path / "missing.sf2"))
    with pytest.raises(FileNotFoundError, match="LIVEDRUM_SOUNDFONT"):
        find_soundfont()
    monkeypatch.delenv("LIVEDRUM_SOUNDFONT")
    monkeypatch.setattr(render, "SOUNDFONT_PATHS", (tmp_path / "none.sf2",))
    with pytest.raises(FileNotFoundError, match="timgm6mb-soundfont"):
        find_soundfont()


def test_render_midi_makes_audio_where_the_notes_are(tmp_path: Path) -> None:
    mid = drums_only(tmp_path / "snare.mid", beats=8, bpm=120.0)
    wav = render_midi(mid, tmp_path / "snare.wav", rate=22050)
    data, rate = read_audio(wav)
    assert rate == 22050 and data.shape[1] == 2
    assert len(data) >= 4.0 * rate * 0.95  # 8 beats at 120 BPM
    env = np.abs(data).max(axis=1)
    # a hit every half second: loud just after each beat, quiet in between
    for b in range(8):
        at = int(b * 0.5 * rate)
        assert env[at : at + rate // 20].max() > 4 * env[at + rate // 4 : at + rate // 4 + rate // 50].max() + 1e-4


def test_render_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mid = drums_only(tmp_path / "d.mid")
    bad = tmp_path / "bad.mid"
    bad.write_text("not midi")
    with pytest.raises(OSError, match="could not render"):
        render_midi(bad, tmp_path / "bad.wav")
    with pytest.raises(FileNotFoundError, match="no such MIDI"):
        render_midi(tmp_path / "missing.mid", tmp_path / "x.wav")
    not_sf2 = tmp_path / "fake.sf2"
    not_sf2.write_text("garbage")
    with pytest.raises(OSError, match="could not render"):
        render_midi(mid, tmp_path / "x.wav", soundfont=not_sf2)
    assert render_midi(mid, tmp_path / "new-dir" / "x.wav").is_file()  # its folder is made
    with pytest.raises(OSError, match="cannot write"):
        render_midi(mid, mid / "x.wav")  # under a file, not a folder
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="install the Debian package fluidsynth"):
        render_midi(mid, tmp_path / "x.wav")


def test_mix_song_and_drums(tmp_path: Path) -> None:
    band = write_band_song(tmp_path / "band.mid", bars=2, drums=False)
    drums = drums_only(tmp_path / "drums.mid", beats=8)
    band_wav = render_midi(band, tmp_path / "band.flac", rate=48000)
    assert soundfile.info(str(band_wav)).format == "FLAC"
    mixed = render_mix(band_wav, drums, tmp_path / "mix.wav")
    mix, rate = read_audio(mixed)
    only_band, _ = read_audio(band_wav)
    assert rate == 48000 and mix.shape[1] == 2
    assert np.abs(mix).max() <= 10 ** (-1 / 20) + 1e-3
    n = min(len(mix), len(only_band))
    assert np.abs(mix[:n] - only_band[:n]).max() > 0.05  # the drums are in it
    from_midi = render_mix(band, drums, tmp_path / "mix2.wav")
    assert read_audio(from_midi)[1] == 44100


def test_mix_rejects_unreadable_audio(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(ValueError, match="not a readable audio file"):
        mix_audio([junk], tmp_path / "out.wav")


def held_note(path: Path, program: int = 30, seconds: float = 2.0) -> Path:
    """A guitar note switched on and never off, as a corpus file ends: FluidSynth renders such a file
    until every voice has died, which a sustaining patch never does."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0),
                            mido.Message("program_change", channel=1, program=program, time=0),
                            mido.Message("note_on", channel=1, note=40, velocity=110, time=0),
                            mido.Message("note_on", channel=1, note=40, velocity=0, time=480),
                            mido.Message("note_on", channel=1, note=47, velocity=110, time=int(960 * seconds) - 480),
                            mido.MetaMessage("end_of_track", time=0)])
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def test_a_note_never_switched_off_ends_with_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RENDER_TIMEOUT_S", 30.0)  # unfixed, the render ran on and on (7 GB seen)
    wav = render_midi(held_note(tmp_path / "held.mid"), tmp_path / "held.wav", rate=8000)
    data, rate = read_audio(wav)
    assert 2.0 * rate <= len(data) < 12.0 * rate  # the song, a release tail, no more
    assert np.abs(data[int(1.0 * rate) : int(1.9 * rate)]).max() > 1e-3  # the notes themselves still sound


def test_a_runaway_render_is_stopped_with_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no release: as if the held note's fix failed, the size guard must stop fluidsynth on its own
    monkeypatch.setattr(render, "released", lambda path, out: (path, 2.0))
    monkeypatch.setattr(render, "TAIL_S", 3.0)
    wav = tmp_path / "held.wav"
    with pytest.raises(OSError, match="past its end"):
        render_midi(held_note(tmp_path / "held.mid"), wav, rate=8000)
    assert not wav.exists()  # no half-written runaway file left behind
