"""The thesis WAV baseline: audio images, onset targets, training, checkpoints, `accompany` on a recording."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("librosa")

from livedrum.audio.rendered import AudioSong, beat_at_seconds, first_seconds  # noqa: E402
from livedrum.checkpoint import model_kind  # noqa: E402
from livedrum.cli import main  # noqa: E402
from livedrum.midifile import load_song  # noqa: E402
from livedrum.song import Notes, Song  # noqa: E402
from livedrum.thesis_model import REST  # noqa: E402
from livedrum.thesis_wav import ThesisWavConfig, ThesisWavDrummer, train_thesis_wav  # noqa: E402
from livedrum.thesis_wav_data import (  # noqa: E402
    feature_image,
    load_mono,
    onset_columns,
    onset_targets,
    onset_times,
    pad_image,
    windows,
)
from livedrum.vocab import DRUM_NOTES, VOICE_OF_NOTE  # noqa: E402

from .conftest import write_band_song  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RATE = 44100
BEAT_S = 0.5  # 120 BPM, the Song default tempo
KICK, HAT = VOICE_OF_NOTE[36], VOICE_OF_NOTE[42]
TINY = dict(width=4, embed=16, hidden=16, pattern=8, stride=4, batch=4, lr=1e-2, epochs=2, patience=5)


def synth_band(path: Path, seconds: float = 16.0, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A recording: a low thump on every beat, a bright tick on the off-beats, a quiet organ chord under
    them. Returns its path and the onset times (seconds)."""
    import soundfile

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    y = 0.05 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t))
    hits = np.arange(0.25, seconds - 0.5, BEAT_S / 2)
    for i, h in enumerate(hits):
        n = int(0.12 * RATE)
        k = np.arange(n) / RATE
        fade = 1.0 - k / k[-1]  # no click where the sound ends
        if i % 2 == 0:
            sound = 0.8 * np.sin(2 * np.pi * 80 * k) * np.exp(-k * 30)
        else:
            sound = 0.3 * np.sin(2 * np.pi * 2500 * k) * np.exp(-k * 60)
        a = int(h * RATE)
        y[a : a + n] += (rng.uniform(0.6, 1.0) * sound * fade)[: len(y) - a]
    soundfile.write(str(path), y.astype(np.float32), RATE)
    return path, hits


def drum_song(hits: np.ndarray) -> Song:
    """The real drummer of `synth_band`: a kick with every thump, a hi-hat with every tick."""
    beats = hits / BEAT_S
    pitch = [36 if i % 2 == 0 else 42 for i in range(len(beats))]
    n = len(beats)
    drums = Notes.from_lists(beats, beats + 0.1, pitch, [100] * n, [9] * n, [0] * n)
    band = Notes.from_lists(beats, beats + 0.2, [48] * n, [90] * n, [0] * n, [0] * n)
    return Song("synth", band, drums, length_beats=float(np.ceil(beats[-1]) + 1))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    return synth_band(tmp_path_factory.mktemp("wav") / "band.wav")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synth: tuple[Path, np.ndarray]) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("thesis-wav")
    other, other_hits = synth_band(folder / "other.wav", 12.0, seed=1)
    wav, hits = synth
    items = [AudioSong("a", drum_song(hits), wav), AudioSong("b", drum_song(other_hits), other)]
    result = train_thesis_wav(items, items[1:], ThesisWavConfig(**TINY), folder / "run", progress=False)
    return folder / "run" / "best.pt", result


def test_feature_image(synth: tuple[Path, np.ndarray]) -> None:
    wav, hits = synth
    config = ThesisWavConfig()
    y = load_mono(wav, config.rate)
    assert len(y) == pytest.approx(16.0 * config.rate, abs=2)
    image = feature_image(y, config)
    assert image.shape == (3, config.bins, 1 + len(y) // config.hop) and image.dtype == np.float32
    assert np.isfinite(image).all()
    assert image[0].min() >= 0 and image[0].max() == pytest.approx(1.0)  # Mel dB: 0..1 below the loudest
    assert image[2].min() >= -1e-6 and image[2].max() <= 1 + 1e-6  # tempogram, normalised per frame
    assert np.abs(image[1]).max() <= 1 and image[1].std() > 0.1  # MFCC, standardised
    # a thump is louder in the Mel channel than the moment before it
    cols = onset_columns(hits[::2], config)
    assert np.all(image[0][:, cols].mean(0) > image[0][:, cols - 5].mean(0))
    # each onset's window is centred on it, 1 second wide, silence beyond the ends
    assert config.frames == 43
    w = windows(pad_image(image, config), np.array([cols[3], 0]), config)
    assert w.shape == (2, 3, config.bins, 43)
    assert np.array_equal(w[0][:, :, 21], image[:, :, cols[3]])
    assert np.all(w[1][:, :, :21] == 0) and np.array_equal(w[1][:, :, 21], image[:, :, 0])


def test_onsets_and_targets(synth: tuple[Path, np.ndarray]) -> None:
    wav, hits = synth
    found = onset_times(wav)
    near = np.array([np.abs(found - h).min() for h in hits])
    assert np.mean(near < 0.02) > 0.9  # livedrum's detector hears the hits
    targets = onset_targets(np.array([hits[0], hits[1], hits[1] + 0.12]), drum_song(hits))
    assert targets.tolist() == [[KICK, 100], [HAT, 100], [REST, 0]]  # 0.12 s = 0.24 beat: no hit that close


def test_first_seconds_and_beats(tmp_path: Path) -> None:
    data = write_band_song(tmp_path / "s.mid", bars=8, bpm=96.0).read_bytes()
    cut = load_song(first_seconds(data, 10.0))
    full = load_song(data)
    limit = 10.0 * 96 / 60  # beats
    assert len(cut.band) < len(full.band) and cut.band.start.max() <= limit + 1e-6
    assert cut.band.end.max() <= limit + 1e-6 and len(cut.drums) > 0  # notes sounding at the cut end there
    song = Song("t", Notes.empty(), Notes.empty(), tempos=[(0.0, 500000), (4.0, 1000000)])
    assert np.allclose(beat_at_seconds(song, np.array([0.0, 1.0, 2.0, 4.0])), [0.0, 2.0, 4.0, 6.0])
    beats = np.linspace(0, 20, 41)
    assert np.allclose(beat_at_seconds(song, song.seconds_at(beats)), beats)


def test_train_writes_loadable_checkpoints(trained: tuple[Path, dict]) -> None:
    best, result = trained
    hist = result["history"]
    assert len(hist) == 2 and hist[1]["train_loss"] < hist[0]["train_loss"]
    assert {"best.pt", "last.pt", "history.json"} <= {p.name for p in best.parent.iterdir()}
    ckpt = torch.load(best, weights_only=True)
    assert ckpt["kind"] == "thesis-wav" and ckpt["config"]["hidden"] == 16
    assert model_kind(best) == "thesis-wav"


def test_drummer_hits_sit_on_onsets(trained: tuple[Path, dict], synth: tuple[Path, np.ndarray]) -> None:
    best, _ = trained
    wav, hits = synth
    onsets = onset_times(wav)
    notes = ThesisWavDrummer.load(best, seed=0).play(wav, onsets)
    again = ThesisWavDrummer.load(best, seed=0).play(wav, onsets)
    other = ThesisWavDrummer.load(best, seed=1).play(wav, onsets)
    assert len(notes) > len(onsets) // 2
    assert set(notes.start.tolist()) <= set(onsets.tolist())  # one event per onset, at the onset
    assert len(set(notes.start.tolist())) == len(notes)
    assert set(notes.pitch.tolist()) <= set(DRUM_NOTES) and np.all(notes.channel == 9)
    assert np.all((notes.velocity >= 1) & (notes.velocity <= 127))
    for field in ("start", "pitch", "velocity"):
        assert np.array_equal(getattr(notes, field), getattr(again, field))
    assert not (len(notes) == len(other) and np.array_equal(notes.pitch, other.pitch)
                and np.array_equal(notes.velocity, other.velocity))


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "livedrum", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300, check=False)


def test_accompany_a_recording(trained: tuple[Path, dict], synth: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    best, _ = trained
    wav, hits = synth
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for out in (a, b):
        done = _cli("accompany", str(wav), "-o", str(out), "--model", str(best), "--seed", "3")
        assert done.returncode == 0, done.stderr
        assert "thesis-wav" in done.stdout
    assert a.read_bytes() == b.read_bytes()  # same seed, same file
    drums = load_song(a).drums
    assert len(drums) > 10 and np.all(drums.channel == 9) and set(drums.pitch.tolist()) <= set(DRUM_NOTES)
    # through the file's tempo map (the audio's beats), every hit is heard at an onset found in the recording,
    # and those are the recording's hits
    heard = load_song(a).seconds_at(drums.start)
    onsets = onset_times(wav)
    assert np.max([np.abs(onsets - t).min() for t in heard]) < 0.002
    assert np.median([np.abs(hits - t).min() for t in heard]) < 0.02
    # kit pieces switched off are left out
    assert main(["accompany", str(wav), "-o", str(tmp_path / "c.mid"), "--model", str(best), "--seed", "3",
                 "--kit-off", "kick,hihat,cymbals,snare,toms"]) == 0
    assert len(load_song(tmp_path / "c.mid").drums.pitch) < len(drums)


def test_bad_model_files_are_one_line(trained: tuple[Path, dict], synth: tuple[Path, np.ndarray],
                                      tmp_path: Path) -> None:
    best, _ = trained
    wav, _ = synth
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(best.read_bytes()[:300])
    damaged = tmp_path / "damaged.pt"
    ckpt = torch.load(best, weights_only=True)
    ckpt["model"] = {k: v for k, v in ckpt["model"].items() if "encoder" not in k}
    torch.save(ckpt, damaged)
    midi = write_band_song(tmp_path / "band.mid", bars=4)
    cases = [(wav, corrupt, "not a livedrum model file"), (wav, damaged, "not a usable thesis-wav model file"),
             (midi, best, "hears recordings only")]
    for source, model, reason in cases:
        done = _cli("accompany", str(source), "-o", str(tmp_path / "o.mid"), "--model", str(model))
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr and reason in lines[0], done.stderr
    assert not (tmp_path / "o.mid").exists()


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="needs the fluidsynth CLI and a SoundFont")
def test_livedrum_train_model_thesis_wav(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(10):  # s8 and s9 fall in the validation split
        write_band_song(corpus / f"s{i}.mid", bars=8, seed=i)
    run = tmp_path / "run"
    assert main(["train", str(corpus), "--model", "thesis-wav", "--out", str(run), "--epochs", "1",
                 "--wav-songs", "2", "--val-songs", "1", "--wav-seconds", "12", "--wav-cache",
                 str(tmp_path / "cache"), "--max-batches", "1"]) == 0
    drummer = ThesisWavDrummer.load(run / "best.pt")
    assert drummer.config.hidden == 128 and drummer.config.seconds == 12.0  # the default size, as asked
    assert len(list((tmp_path / "cache").glob("*.wav"))) == 3  # 2 training songs and 1 validation song
