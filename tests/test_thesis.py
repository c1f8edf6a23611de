"""The thesis baseline: event targets, patterns, training, checkpoints and seeded generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from livedrum.song import Notes, Song
from livedrum.thesis import ThesisConfig, ThesisDrummer, ThesisNet, prepare, train_thesis
from livedrum.thesis_data import event_targets, load_songs
from livedrum.thesis_model import N_CLASSES, REST
from livedrum.vocab import DRUM_NOTES, VOICE_OF_NOTE

KICK, SNARE, HAT = VOICE_OF_NOTE[36], VOICE_OF_NOTE[38], VOICE_OF_NOTE[42]
DATA = Path("/work/shared/data/midi")


def _notes(rows: list[tuple[float, int, int, int, int]]) -> Notes:
    """rows of (start, pitch, velocity, channel, program)."""
    if not rows:
        return Notes.empty()
    start, pitch, vel, ch, prog = zip(*rows, strict=True)
    return Notes.from_lists(start, np.asarray(start) + 0.25, pitch, vel, ch, prog)


def _groove_song(n_beats: int, seed: int = 0) -> Song:
    """Bass (with kick) on beats, guitar (with hi-hat) on eighths, snare on 2 and 4."""
    rng = np.random.default_rng(seed)
    band, drums = [], []
    for b in range(n_beats):
        band.append((b, 36 + int(rng.integers(0, 12)), 100, 0, 33))
        drums.append((b, 36 if b % 2 == 0 else 38, 110, 9, 0))
        for off in (0.0, 0.5):
            band.append((b + off, 60 + int(rng.integers(0, 12)), 70, 1, 25))
            drums.append((b + off, 42, 80, 9, 0))
    return Song(name=f"groove{seed}", band=_notes(band), drums=_notes(drums), length_beats=n_beats)


def test_prepare_shapes_and_targets() -> None:
    # 40 bass notes, one per beat; a kick exactly on every even beat, nothing on odd beats.
    band = _notes([(b, 40, 90, 0, 33) for b in range(40)])
    drums = _notes([(b, 36, 120, 9, 0) for b in range(0, 40, 2)])
    song = Song(name="bass", band=band, drums=drums, length_beats=40)
    inputs, targets = prepare([song])
    assert inputs.shape == (2, 20, 256) and inputs.dtype == torch.float32
    assert targets.shape == (2, 20, 2) and targets.dtype == torch.long
    assert torch.all(inputs.sum(-1) == 2)  # one pitch and one velocity per event
    assert torch.all(inputs[..., :128].argmax(-1) == 40)
    assert torch.all(inputs[..., 128:].argmax(-1) == 90)
    flat = targets.reshape(-1, 2)
    assert flat[0].tolist() == [KICK, 120]  # a kick at a bass onset -> the kick class
    assert flat[1].tolist() == [REST, 0]  # an onset with no drum -> rest
    assert torch.all(flat[0::2, 0] == KICK) and torch.all(flat[1::2, 0] == REST)


def test_chord_targets_low_to_high_and_window() -> None:
    band = _notes([(0.0, 40, 90, 0, 33), (0.0, 64, 80, 1, 25), (0.0, 72, 80, 1, 25),
                   (1.0, 40, 90, 0, 33), (2.0, 40, 90, 0, 33), (3.0, 40, 90, 0, 33)])
    drums = _notes([(0.0, 42, 70, 9, 0), (0.01, 36, 100, 9, 0), (0.0, 36, 60, 9, 0),  # kick twice
                    (1.1, 38, 90, 9, 0),  # within 1/8 beat: belongs to the onset at 1.0
                    (2.2, 38, 90, 9, 0),  # too far from any onset
                    (3.0, 42, 50, 9, 0), (3.0, 49, 100, 9, 0)])  # one event, two hits: the loudest
    classes, velocity = event_targets(band.sorted(), drums)
    assert classes.tolist() == [KICK, HAT, REST, SNARE, REST, VOICE_OF_NOTE[49]]
    assert velocity.tolist() == [100, 70, 0, 90, 0, 100]


def test_instrument_selection() -> None:
    song = _groove_song(20)
    everything, _ = prepare([song], ThesisConfig(pattern=10, stride=10))
    bass_only, _ = prepare([song], ThesisConfig(pattern=10, stride=10, families=(4,)))
    guitar_ch, _ = prepare([song], ThesisConfig(pattern=10, stride=10, channels=(1,)))
    assert len(everything) == 6 and len(bass_only) == 2 and len(guitar_ch) == 4
    assert torch.all(bass_only[..., :128].argmax(-1) < 48)
    with pytest.raises(ValueError):
        ThesisConfig(families=(16,))


def test_net_shapes() -> None:
    config = ThesisConfig(hidden=8, pattern=5)
    net = ThesisNet(config)
    inputs = torch.zeros(3, 5, 256)
    note, vel = net(inputs, torch.zeros(3, 5, N_CLASSES + 128))
    assert note.shape == (3, 5, N_CLASSES) and vel.shape == (3, 5, 128)
    c, v = net.generate(inputs, 1.0, torch.Generator().manual_seed(0))
    assert c.shape == v.shape == (3, 5)
    assert torch.all((c == REST) == (v == 0))  # rests are silent, hits audible


def test_train_reload_and_generate(tmp_path: Path) -> None:
    torch.manual_seed(0)
    songs = [_groove_song(80, seed) for seed in range(3)]
    config = ThesisConfig(hidden=16, batch=16, lr=1e-2, epochs=2, patience=5)
    result = train_thesis(songs[:2], songs[2:], config, tmp_path, progress=False)
    hist = result["history"]
    assert len(hist) == 2
    assert hist[1]["train_loss"] < hist[0]["train_loss"]
    assert hist[1]["val_loss"] < hist[0]["val_loss"]
    ckpt = torch.load(tmp_path / "best.pt", weights_only=True)
    assert ckpt["kind"] == "thesis" and ckpt["config"]["hidden"] == 16
    assert {"model", "epoch", "val_loss"} <= set(ckpt)

    song = songs[2]
    song = Song(name=song.name, band=song.band, drums=Notes.empty(), length_beats=song.length_beats)
    notes = ThesisDrummer.load(tmp_path / "best.pt", seed=0)(song)
    again = ThesisDrummer.load(tmp_path / "best.pt", seed=0)(song)
    other = ThesisDrummer.load(tmp_path / "best.pt", seed=1)(song)
    assert isinstance(notes, Notes) and len(notes) > 0
    assert set(notes.pitch.tolist()) <= set(DRUM_NOTES)
    assert set(notes.start.tolist()) <= set(song.band.start.tolist())
    assert np.all(notes.channel == 9) and np.all((notes.velocity >= 1) & (notes.velocity <= 127))
    pairs = list(zip(notes.start.tolist(), notes.pitch.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))  # one note per voice per onset
    for field in ("start", "pitch", "velocity"):
        assert np.array_equal(getattr(notes, field), getattr(again, field))
    assert not (len(notes) == len(other) and np.array_equal(notes.pitch, other.pitch)
                and np.array_equal(notes.velocity, other.velocity))
    assert len(ThesisDrummer.load(tmp_path / "best.pt")(Song("empty", Notes.empty(), Notes.empty()))) == 0


@pytest.mark.skipif(not DATA.exists(), reason="shared data not present")
def test_real_song_has_drum_targets() -> None:
    from livedrum.corpus import discover

    song = next(load_songs(discover([DATA / "freedoom"])))
    _, targets = prepare([song])
    assert len(targets) > 0
    hit_share = (targets[..., 0] != REST).float().mean().item()
    assert 0.05 < hit_share < 1.0


def test_accompany_and_eval_take_a_thesis_model(tmp_path, band_song) -> None:  # noqa: ANN001
    """`--model PATH` with a thesis checkpoint plays the thesis network through the same commands."""
    from livedrum.cli import main
    from livedrum.midifile import load_song
    from livedrum.thesis import ThesisConfig, train_thesis
    from livedrum.vocab import KIT_PIECES

    song = load_song(band_song)
    train_thesis([song, song], [song], ThesisConfig(hidden=16, epochs=1, batch=8), tmp_path / "t", progress=False)
    model = tmp_path / "t" / "best.pt"
    out = tmp_path / "thesis.mid"
    assert main(["accompany", str(band_song), "-o", str(out), "--model", str(model), "--complexity", "1",
                 "--kit-off", "hihat"]) == 0
    drums = load_song(out).drums
    assert not set(drums.pitch.tolist()) & set(KIT_PIECES["hihat"])
    assert main(["eval", str(band_song), "--model", str(model), "--json", str(tmp_path / "e.json")]) == 0


def test_livedrum_train_model_thesis(tmp_path) -> None:  # noqa: ANN001
    from livedrum.cli import main
    from livedrum.thesis import ThesisDrummer

    from .conftest import write_band_song

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(12):
        write_band_song(corpus / f"s{i}.mid", bars=8, seed=i)
    assert main(["train", str(corpus), "--model", "thesis", "--out", str(tmp_path / "run"), "--epochs", "1"]) == 0
    assert ThesisDrummer.load(tmp_path / "run" / "best.pt").config.hidden == 512  # the thesis' size
