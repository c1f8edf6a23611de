"""`livedrum accompany` on a real recording: the drum track's beats sit on the audio's true beats."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from livedrum.audio.tempo import beat_f_measure
from livedrum.cli import main
from livedrum.midifile import load_song
from livedrum.render import read_audio
from tests.audio.conftest import RenderedSong, render_band


def test_drums_line_up_with_the_recording(band_audio: RenderedSong, tiny_model: Path, tmp_path: Path) -> None:
    out, mix = tmp_path / "drums.mid", tmp_path / "mix.wav"
    code = main(["accompany", str(band_audio.audio), "-o", str(out), "--model", str(tiny_model),
                 "--humanize", "0", "--render", str(mix)])
    assert code == 0
    result = load_song(out.read_bytes(), out.name)
    assert len(result.drums) > 20
    # the output's tempo map puts its beats on the audio's true beats
    truth = band_audio.beat_times()
    midi_beats = result.seconds_at(np.arange(1, int(result.length_beats)))
    assert beat_f_measure(truth, midi_beats[midi_beats <= truth[-1] + 0.1]) > 0.9
    # drum hits on whole MIDI beats are heard on true beats
    on_beat = result.drums.start[np.abs(result.drums.start - np.rint(result.drums.start)) < 1e-6]
    hit_times = result.seconds_at(on_beat)
    hit_times = hit_times[(hit_times > truth[1]) & (hit_times < truth[-1])]
    assert len(hit_times) > 10
    assert np.median([np.abs(truth - t).min() for t in hit_times]) < 0.03
    # the listening mix: the recording plus the drums
    audio, rate = read_audio(mix)
    song, _ = read_audio(band_audio.audio)
    assert rate == 44100 and len(audio) >= len(song)


def test_bars_start_where_the_song_starts(tmp_path: Path, tiny_model: Path) -> None:
    """A song that starts on a downbeat: the output's bar lines fall on the song's bar lines."""
    rendered = render_band(tmp_path, "b120", 120.0, bars=8)
    out = tmp_path / "d.mid"
    assert main(["accompany", str(rendered.audio), "-o", str(out), "--model", str(tiny_model)]) == 0
    mid = mido.MidiFile(str(out))
    result = load_song(out.read_bytes(), out.name)
    sig = [m for m in mid.tracks[0] if m.type == "time_signature"]
    first_bar = sig[0].numerator if len(sig) > 1 else 0  # the pickup bar's length, in beats
    bar_lines = result.seconds_at(np.arange(first_bar, int(result.length_beats), 4))
    true_bars = rendered.beat_times()[::4]
    assert beat_f_measure(true_bars, bar_lines[bar_lines <= true_bars[-1] + 0.1]) > 0.8


@pytest.mark.parametrize("content", [b"", b"RIFF\x10\x00\x00\x00WAVEfmt garbage", b"fLaC" + bytes(100)])
def test_bad_audio_is_one_line(tmp_path: Path, tiny_model: Path, content: bytes,
                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.flac"
    bad.write_bytes(content)
    code = main(["accompany", str(bad), "-o", str(tmp_path / "o.mid"), "--model", str(tiny_model)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("livedrum: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.mid").exists()


def test_truncated_and_silent_audio(tmp_path: Path, band_audio: RenderedSong, tiny_model: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import soundfile

    data, rate = read_audio(band_audio.audio)
    cut = tmp_path / "cut.wav"
    soundfile.write(str(cut), data[: rate * 6], rate)
    raw = cut.read_bytes()
    cut.write_bytes(raw[: len(raw) * 2 // 3])  # the header promises more than the file holds
    assert main(["accompany", str(cut), "-o", str(tmp_path / "c.mid"), "--model", str(tiny_model)]) == 0
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros((rate * 3, 2), np.float32), rate)
    code = main(["accompany", str(silent), "-o", str(tmp_path / "s.mid"), "--model", str(tiny_model)])
    err = capsys.readouterr().err
    assert code == 1 and "no steady beat" in err


def test_midi_input_renders_too(band_song: Path, tiny_model: Path, tmp_path: Path) -> None:
    mix = tmp_path / "m.wav"
    assert main(["accompany", str(band_song), "-o", str(tmp_path / "m.mid"), "--model", str(tiny_model),
                 "--render", str(mix)]) == 0
    audio, rate = read_audio(mix)
    assert rate == 44100 and np.abs(audio).max() > 0.05
