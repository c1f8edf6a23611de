"""Shared fixtures: small real MIDI songs made with mido, and a tiny trained model."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__import__("os").environ.get("LIVEDRUM_DATA", REPO.parent / "shared" / "data"))


def write_band_song(path: Path, bars: int = 8, bpm: float = 120.0, drums: bool = True, seed: int = 0) -> Path:
    """A 4/4 pop-rock band part (bass, chords, lead) with a real drum part on channel 10."""
    import random

    rnd = random.Random(seed)
    tpb = 480
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)])
    mid.tracks.append(meta)
    roots = [40, 45, 43, 38]
    events: dict[int, list[tuple[int, mido.Message]]] = {0: [], 1: [], 2: [], 9: []}

    def note(ch: int, t: float, dur: float, pitch: int, vel: int) -> None:
        t0, t1 = int(t * tpb), int((t + dur) * tpb)
        events[ch].append((t0, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
        events[ch].append((t1, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))

    for bar in range(bars):
        root = roots[bar % 4]
        b0 = bar * 4
        for q in (0, 1.5, 2, 3, 3.5):
            note(0, b0 + q, 0.45, root, 100)
        for q in (0, 2):
            for iv in (12, 16, 19):
                note(1, b0 + q, 1.9, root + iv + 12, 70)
        for q in range(8):
            if rnd.random() < 0.6:
                note(2, b0 + q / 2, 0.4, 72 + rnd.choice([0, 2, 4, 7, 9]), 90)
        if drums:
            for q in (0, 1.5, 2):
                note(9, b0 + q, 0.1, 36, 110)
            for q in (1, 3):
                note(9, b0 + q, 0.1, 38, 105)
            for e in range(8):
                note(9, b0 + e / 2, 0.1, 42, 80 if e % 2 else 95)
    for evs in events.values():
        evs.sort(key=lambda e: (e[0], e[1].type == "note_on"))
        track = mido.MidiTrack()
        last = 0
        for t, msg in evs:
            track.append(msg.copy(time=t - last))
            last = t
        if evs:
            mid.tracks.append(track)
    mid.save(str(path))
    return path


@pytest.fixture(scope="session")
def band_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_band_song(tmp_path_factory.mktemp("songs") / "band.mid", bars=16)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small DrumNet trained for a few batches on generated songs: real weights, real file."""
    from livedrum.batches import train_song
    from livedrum.features import song_arrays
    from livedrum.midifile import load_song
    from livedrum.model import ModelConfig
    from livedrum.train import TrainConfig, train
    from livedrum.training_jobs import export_model

    d = tmp_path_factory.mktemp("tiny")
    songs = []
    for i in range(6):
        song = load_song(write_band_song(d / f"s{i}.mid", bars=12, seed=i))
        songs.append(train_song(f"s{i}", "synthetic", song_arrays(song)))
    cfg = TrainConfig(out=str(d / "run"), epochs=3, streams=4, chunk_beats=8, lr=1e-2,
                      model=ModelConfig(enc_hidden=24, dec_hidden=24))
    train(cfg, songs[:4], songs[4:], progress=False)
    return export_model(Path(cfg.out), songs[4:])
