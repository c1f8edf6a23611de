"""`livedrum accompany` end to end: real MIDI in, real MIDI out, through the command line."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from livedrum.cli import default_model_path, main
from livedrum.midifile import load_song
from livedrum.vocab import KIT_PIECES

SHIPPED = default_model_path()


def _run(*argv: str) -> int:
    return main(["accompany", *argv])


def _drum_notes(path: Path) -> list[tuple[int, int]]:
    return [(round(s * 480), int(p)) for s, p in zip(load_song(path).drums.start, load_song(path).drums.pitch)]


@pytest.fixture(params=["tiny", "shipped"])
def model(request, tiny_model) -> Path:  # noqa: ANN001
    if request.param == "shipped":
        if not SHIPPED.exists():
            pytest.skip("no shipped model in models/")
        return SHIPPED
    return tiny_model


def test_output_keeps_the_song_and_adds_drums(tmp_path, band_song, model) -> None:  # noqa: ANN001
    out = tmp_path / "out.mid"
    assert _run(str(band_song), "-o", str(out), "--model", str(model), "--complexity", "0.9") == 0
    src, res = mido.MidiFile(band_song), mido.MidiFile(out)
    assert res.type == 1 and res.ticks_per_beat == src.ticks_per_beat
    assert len(res.tracks) == len(src.tracks) + 1
    song_in, song_out = load_song(band_song), load_song(out)
    assert song_out.tempos == song_in.tempos
    assert song_out.time_signatures == song_in.time_signatures
    assert (song_out.band.start == song_in.band.start).all()
    assert (song_out.band.pitch == song_in.band.pitch).all()
    assert len(song_out.drums) > 0  # the input's own drums were removed, these are generated
    last = res.tracks[-1]
    assert {m.channel for m in last if m.type.startswith("note")} == {9}
    ons = sum(1 for m in last if m.type == "note_on" and m.velocity > 0)
    offs = sum(1 for m in last if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0))
    assert ons == offs


def test_keep_drums_keeps_the_input_drums(tmp_path, band_song, tiny_model) -> None:  # noqa: ANN001
    out = tmp_path / "keep.mid"
    assert _run(str(band_song), "-o", str(out), "--model", str(tiny_model), "--keep-drums") == 0
    n_in = len(load_song(band_song).drums)
    assert len(load_song(out).drums) >= n_in


def test_same_seed_identical_files(tmp_path, band_song, model) -> None:  # noqa: ANN001
    a, b, c = tmp_path / "a.mid", tmp_path / "b.mid", tmp_path / "c.mid"
    for out, seed in ((a, "4"), (b, "4"), (c, "5")):
        assert _run(str(band_song), "-o", str(out), "--model", str(model), "--seed", seed,
                    "--complexity", "0.9") == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_complexity_raises_density(tmp_path, band_song, model) -> None:  # noqa: ANN001
    counts = {}
    for c in ("0.1", "0.9"):
        out = tmp_path / f"c{c}.mid"
        assert _run(str(band_song), "-o", str(out), "--model", str(model), "--complexity", c) == 0
        counts[c] = len(load_song(out).drums)
    assert counts["0.9"] >= 1.5 * max(1, counts["0.1"]), counts


def test_hihat_off_plays_no_hihat(tmp_path, band_song, model) -> None:  # noqa: ANN001
    out = tmp_path / "nohat.mid"
    assert _run(str(band_song), "-o", str(out), "--model", str(model), "--complexity", "0.9",
                "--kit-off", "hihat") == 0
    pitches = set(load_song(out).drums.pitch.tolist())
    assert pitches and not pitches & set(KIT_PIECES["hihat"])


@pytest.mark.parametrize(
    "content, expected",
    [(b"", "not a readable MIDI file"), (b"MThd\x00\x00\x00\x06\x00\x01", "not a readable MIDI file"),
     (b"garbage" * 50, "not a readable MIDI file")],
)
def test_bad_input_is_one_clear_line(tmp_path, capsys, tiny_model, content, expected) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    assert _run(str(bad), "-o", str(tmp_path / "o.mid"), "--model", str(tiny_model)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0]


def test_missing_model_and_bad_options_are_one_line(tmp_path, capsys, band_song) -> None:  # noqa: ANN001
    assert _run(str(band_song), "-o", str(tmp_path / "o.mid"), "--model", str(tmp_path / "no.pt")) == 1
    assert "model file not found" in capsys.readouterr().err
    not_ours = tmp_path / "x.pt"
    not_ours.write_bytes(b"PK\x03\x04 not a model")
    assert _run(str(band_song), "-o", str(tmp_path / "o.mid"), "--model", str(not_ours)) == 1
    assert "not a livedrum model file" in capsys.readouterr().err
    assert _run(str(band_song), "-o", str(tmp_path / "o.mid"), "--kit-off", "cowbell") == 1
    assert "unknown kit piece" in capsys.readouterr().err
    assert _run(str(band_song), "-o", str(tmp_path / "o.mid"), "--complexity", "3") == 1
    assert "complexity" in capsys.readouterr().err


def test_kit_maps_the_written_drum_track_as_the_live_drummer_sends_it(tmp_path, band_song, tiny_model) -> None:  # noqa: ANN001
    from livedrum.kits import load_kit

    gm, tr8s = tmp_path / "gm.mid", tmp_path / "tr8s.mid"
    common = ("--model", str(tiny_model), "--complexity", "0.9", "--seed", "3")
    assert _run(str(band_song), "-o", str(gm), *common) == 0
    assert _run(str(band_song), "-o", str(tr8s), *common, "--kit", "roland-tr-8s") == 0
    kit = load_kit("roland-tr-8s")

    def hits(path: Path) -> list[tuple[int, int, int, int]]:
        track = mido.MidiFile(path).tracks[-1]
        tick, out = 0, []
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity > 0:
                out.append((tick, m.channel, m.note, m.velocity))
        return out

    plain, mapped = hits(gm), hits(tr8s)
    assert len(plain) == len(mapped) > 20
    expected = [(t, *kit.out_note(note), kit.velocity(v)) for t, _, note, v in plain]
    assert sorted(mapped) == sorted(expected)
    assert any(note != gm_note for (_, _, note, _), (_, _, gm_note, _) in zip(sorted(mapped), sorted(plain)))
    # every note-on has its note-off on the same channel and note
    track = mido.MidiFile(tr8s).tracks[-1]
    ons = sorted((m.channel, m.note) for m in track if m.type == "note_on" and m.velocity > 0)
    offs = sorted((m.channel, m.note) for m in track if m.type == "note_off")
    assert ons == offs


def test_unknown_kit_is_one_error_line_before_any_work(tmp_path, band_song, capsys) -> None:  # noqa: ANN001
    assert _run(str(band_song), "-o", str(tmp_path / "x.mid"), "--kit", "no-such-kit") != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no-such-kit" in err
    assert not (tmp_path / "x.mid").exists()
