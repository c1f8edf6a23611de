"""Bad input never produces a traceback: damaged MIDI files and bad options through every command.

A corpus of broken files is made from one real song (cut at many offsets, bytes changed, broken
header and track chunks, garbage tracks, absurd delta times, files that are not MIDI at all) and
fed to `livedrum accompany`, `eval`, `train` and `demo --band`, with bad options and bad model
files besides. Each must end with exactly one line on stderr, "livedrum: error: ...", and a
non-zero exit; never a traceback, never "livedrum: internal error".
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import pytest
import torch

from livedrum.cli import default_model_path, main
from livedrum.midifile import load_song
from tests.conftest import REPO, write_band_song

# ---- the corpus --------------------------------------------------------------------------------


def _chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, tag, length) of each chunk of a well-formed file."""
    out, i = [], 0
    while i + 8 <= len(data):
        tag, n = data[i:i + 4], struct.unpack(">I", data[i + 4:i + 8])[0]
        out.append((i, tag, n))
        i += 8 + n
    return out


def _smf(tracks: list[bytes], fmt: int = 1, tpb: int = 480) -> bytes:
    """A Standard MIDI File from raw track bodies."""
    head = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), tpb)
    return head + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


def broken_files(good: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, what the error line must say): files no command can use."""
    files: dict[str, tuple[bytes, str]] = {}
    chunks = _chunks(good)
    assert [c[1] for c in chunks[:3]] == [b"MThd", b"MTrk", b"MTrk"]
    cuts = {0, 1, 3, 4, 7, 8, 10, 12, 13, 14, 15, 18, 21, 22, 23, 25, 30, len(good) - 4, len(good) - 1}
    cuts |= set(range(40, len(good) - 1, len(good) // 24))
    cuts |= {offset + k for offset, _, _ in chunks[1:] for k in (0, 3, 4, 7, 8, 9)}  # inside chunk headers
    for cut in sorted(c for c in cuts if c < len(good)):
        files[f"cut-at-{cut:04d}"] = (good[:cut], "not a readable MIDI file")
    header = good[:14]
    files["header-magic"] = (b"MThx" + good[4:], "not a readable MIDI file")
    files["header-length-short"] = (good[:4] + struct.pack(">I", 4) + good[8:], "not a readable MIDI file")
    files["header-length-long"] = (good[:4] + struct.pack(">I", 200) + good[8:], "not a readable MIDI file")
    files["header-length-huge"] = (good[:4] + struct.pack(">I", 0xFFFFFFFF) + good[8:], "not a readable MIDI file")
    files["header-format-3"] = (good[:8] + struct.pack(">H", 3) + good[10:], "MIDI type 3")
    files["header-format-ffff"] = (good[:8] + b"\xff\xff" + good[10:], "is not supported")
    files["header-zero-tracks"] = (good[:10] + b"\x00\x00" + good[12:], "no tracks")
    files["header-zero-tracks-only"] = (good[:10] + b"\x00\x00" + good[12:14], "no tracks")
    files["header-ffff-tracks"] = (good[:10] + b"\xff\xff" + good[12:], "no tracks")
    files["header-more-tracks-than-there-are"] = (good[:10] + b"\x00\x09" + good[12:], "not a readable MIDI file")
    files["header-ticks-0"] = (good[:12] + b"\x00\x00" + good[14:], "0 ticks per beat")
    files["header-smpte"] = (good[:12] + bytes([0xE7, 0x28]) + good[14:], "SMPTE")
    files["header-only"] = (header, "not a readable MIDI file")
    at, _, length = chunks[2]  # the first track with notes

    def track_length(n: int) -> bytes:
        return good[:at + 4] + struct.pack(">I", n) + good[at + 8:]

    files["track-too-long"] = (track_length(length + 5000), "not a readable MIDI file")
    files["track-too-short"] = (track_length(length - 7), "not a readable MIDI file")
    files["track-length-0"] = (track_length(0), "not a readable MIDI file")
    files["track-length-negative"] = (track_length(0xFFFFFFF0), "not a readable MIDI file")
    files["track-bad-tag"] = (good[:at] + b"XXXX" + good[at + 4:], "not a readable MIDI file")
    rnd = random.Random(7)
    running = bytes(rnd.randrange(0, 128) for _ in range(300))  # data bytes with no status ever
    files["track-running-status-garbage"] = (_smf([running]), "not a readable MIDI file")
    noise = b"\x00" + bytes(rnd.randrange(256) for _ in range(400))
    files["track-random-bytes"] = (_smf([noise]), "not a readable MIDI file")
    huge = b"\x00\x90\x3c\x64" + b"\x8f\xff\xff\x7f\x80\x3c\x00" * 3 + b"\x00\xff\x2f\x00"  # 0x0FFFFFFF ticks
    files["huge-delta-times"] = (_smf([huge], fmt=0), "implausible length")
    overlong = b"\x00\x90\x3c\x64" + b"\xff\xff\xff\xff\x7f\x80\x3c\x00" + b"\x00\xff\x2f\x00"  # a 5-byte VLQ
    files["overlong-delta-time"] = (_smf([overlong], fmt=0), "implausible length")
    files["empty"] = (b"", "not a readable MIDI file")
    files["text"] = (b"this is not a MIDI file\nbut a shopping list\n", "not a readable MIDI file")
    wav = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 176400, 4, 16)
    files["wav"] = (wav + b"data" + struct.pack("<I", 0), "not a readable MIDI file")
    files["zeros"] = (bytes(2000), "not a readable MIDI file")
    meta = mido.MidiFile(type=1)
    meta.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=400000),
                                       mido.MetaMessage("track_name", name="only meta")]))
    files["only-meta-events"] = (_bytes_of(meta), "no band notes")
    drums = mido.MidiFile(file=io.BytesIO(good))
    drums.tracks = [t for t in drums.tracks if all(getattr(m, "channel", 9) == 9 for m in t)]
    files["drums-but-no-band"] = (_bytes_of(drums), "no band notes")
    return files


def _bytes_of(mid: mido.MidiFile) -> bytes:
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def damaged_files(good: bytes, n: int = 40) -> dict[str, bytes]:
    """Seeded random byte changes: some still read (then they must work), most do not."""
    rnd = random.Random(1234)
    out = {}
    for k in range(n):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 12)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        out[f"damaged-{k:02d}"] = bytes(data)
    return out


@pytest.fixture(scope="module")
def good_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_band_song(tmp_path_factory.mktemp("good") / "good.mid", bars=4)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, good_song: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected words) of every broken file, plus a folder and a missing file."""
    folder = tmp_path_factory.mktemp("broken")
    out = {}
    for name, (data, expected) in broken_files(good_song.read_bytes()).items():
        path = folder / f"{name}.mid"
        path.write_bytes(data)
        out[name] = (path, expected)
    (folder / "a-folder.mid").mkdir()
    out["a-folder"] = (folder / "a-folder.mid", "cannot read")
    out["missing"] = (folder / "not-there.mid", "cannot read")
    return out


def _names() -> list[str]:
    """The corpus' names, for parametrizing (made once at collection, in a folder of its own)."""
    with tempfile.TemporaryDirectory() as tmp:
        good = write_band_song(Path(tmp) / "g.mid", bars=4).read_bytes()
    return [*sorted(broken_files(good)), "a-folder", "missing"]


BROKEN = _names()


def one_error_line(err: str) -> str:
    """stderr is exactly one line, 'livedrum: error: ...', with no traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livedrum: error: "), err
    return lines[0]


def last_error_line(err: str) -> str:
    """For commands that report progress on stderr first: the only 'livedrum:' line is the last."""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    ours = [line for line in lines if line.startswith("livedrum:")]
    assert ours == [lines[-1]] and lines[-1].startswith("livedrum: error: "), err
    return lines[-1]


# ---- accompany ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BROKEN)
def test_accompany_refuses_a_broken_file_in_one_line(name: str, corpus, tmp_path, capsys) -> None:  # noqa: ANN001
    path, expected = corpus[name]
    out = tmp_path / "out.mid"
    assert main(["accompany", str(path), "-o", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert expected in line, line
    assert not out.exists()


def test_accompany_on_randomly_damaged_files(good_song: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    """Each damaged file either plays (a valid MIDI file comes out) or is refused in one line."""
    # A changed delta time can stretch the song to thousands of silent bars, which is no error:
    # the drummer would play them all. A lower length guard keeps the test quick and still takes
    # that path ("implausible length") for them.
    monkeypatch.setattr("livedrum.midifile.MAX_BEATS", 400)
    played = refused = 0
    for name, data in damaged_files(good_song.read_bytes()).items():
        src, out = tmp_path / f"{name}.mid", tmp_path / f"{name}-drums.mid"
        src.write_bytes(data)
        code = main(["accompany", str(src), "-o", str(out)])
        err = capsys.readouterr().err
        if code == 0:
            played += 1
            assert err == "" and len(load_song(out).drums) >= 0
            assert mido.MidiFile(out).tracks[-1].name == "livedrum drums"
        else:
            refused += 1
            assert code == 1 and not out.exists()
            one_error_line(err)
    assert played and refused  # the seed gives both kinds


def test_realtime_bytes_inside_a_track_are_dropped_not_fatal(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A clock or stop byte (0xF8..0xFC) inside a track reads, but mido cannot write it back: the
    accompaniment leaves it out and keeps the timing of what follows."""
    band = b"".join(b"\x00\x90" + bytes([48 + i, 100]) + b"\x00\xfc\x83\x60\x80" + bytes([48 + i, 0])
                    for i in range(16)) + b"\x00\xff\x2f\x00"  # note, stop byte, 480 ticks, note off
    src, out = tmp_path / "clock.mid", tmp_path / "clock-drums.mid"
    src.write_bytes(_smf([band], fmt=0))
    assert main(["accompany", str(src), "-o", str(out)]) == 0, capsys.readouterr().err
    result = mido.MidiFile(out)
    assert not any(m.is_realtime for t in result.tracks for m in t)
    assert (load_song(out).band.start == load_song(src).band.start).all()
    assert (load_song(out).band.end == load_song(src).band.end).all()


def _bad_models(folder: Path) -> dict[str, tuple[Path, str]]:
    ckpt = torch.load(default_model_path(), map_location="cpu", weights_only=True)
    garbage = folder / "garbage.pt"
    garbage.write_bytes(bytes(range(256)) * 8)
    empty = folder / "empty.pt"
    empty.write_bytes(b"")
    made = {"garbage": (garbage, "not a livedrum model file"), "empty": (empty, "not a livedrum model file"),
            "missing": (folder / "nope.pt", "model file not found"), "a-folder": (folder, "model file not found")}
    contents = {
        "wrong-kind": ({"x": 1}, "not a livedrum model file"),
        "a-tensor": (torch.zeros(3), "not a livedrum model file"),
        "no-weights": ({"format": "livedrum-drumnet", "version": 1}, "does not match"),
        "newer-version": ({**ckpt, "version": 99}, "format version 99"),
        "impossible-size": ({**ckpt, "model_config": {**ckpt["model_config"], "enc_hidden": -3}}, "impossible"),
        "config-not-a-dict": ({**ckpt, "model_config": "abc"}, "damaged"),
        "sampling-not-a-dict": ({**ckpt, "sampling": [1, 2]}, "damaged sampling"),
        "sampling-wrong-types": ({**ckpt, "sampling": {"complexity": "high", "bias": None}}, "damaged sampling"),
        "sampling-out-of-range": ({**ckpt, "sampling": {"complexity": 7.0}}, "damaged sampling"),
        "thesis-without-weights": ({"kind": "thesis"}, "thesis model file"),
    }
    for name, (content, expected) in contents.items():
        torch.save(content, folder / f"{name}.pt")
        made[name] = (folder / f"{name}.pt", expected)
    return made


BAD_MODELS = ["garbage", "empty", "missing", "a-folder", "wrong-kind", "a-tensor", "no-weights", "newer-version",
              "impossible-size", "config-not-a-dict", "sampling-not-a-dict", "sampling-wrong-types",
              "sampling-out-of-range", "thesis-without-weights"]


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return _bad_models(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("name", BAD_MODELS)
def test_accompany_with_a_bad_model_file(name: str, bad_models, good_song, tmp_path, capsys) -> None:  # noqa: ANN001
    path, expected = bad_models[name]
    assert main(["accompany", str(good_song), "-o", str(tmp_path / "o.mid"), "--model", str(path)]) == 1
    assert expected in one_error_line(capsys.readouterr().err)


BAD_OPTIONS = [
    (["--kit-off", "cowbell"], "unknown kit piece", 1),
    (["--kit-off", "kick,,snare,tuba"], "unknown kit piece", 1),
    (["--complexity", "1.5"], "complexity must be within 0..1", 1),
    (["--complexity", "-0.1"], "complexity must be within 0..1", 1),
    (["--complexity", "nan"], "complexity must be within 0..1", 1),
    (["--complexity", "loud"], "invalid float value", 2),
    (["--humanize", "inf"], "--humanize must be within 0..1", 1),
    (["--humanize", "-1"], "--humanize must be within 0..1", 1),
    (["--humanize", "nan"], "--humanize must be within 0..1", 1),
    (["--seed", "-1"], "--seed must be 0 or more", 1),
    (["--seed", "1.5"], "invalid int value", 2),
    (["--swing", "2"], "swing must be within 0..1", 1),
    (["--intensity", "nan"], "intensity must be within 0..1", 1),
    (["--preset", "polka"], "unknown preset", 1),
    (["--device", "tpu"], "invalid choice", 2),
    (["--no-such-option"], "unrecognized arguments", 2),
]


@pytest.mark.parametrize(("options", "expected", "code"), BAD_OPTIONS,
                         ids=[" ".join(options) for options, _, _ in BAD_OPTIONS])
def test_accompany_with_bad_options(options: list[str], expected: str, code: int, good_song, tmp_path,
                                    capsys) -> None:  # noqa: ANN001
    out = tmp_path / "o.mid"
    assert main(["accompany", str(good_song), "-o", str(out), *options]) == code
    assert expected in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_accompany_asks_for_cuda_without_a_gpu(good_song, tmp_path, capsys) -> None:  # noqa: ANN001
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["accompany", str(good_song), "-o", str(tmp_path / "o.mid"), "--device", "cuda"]) == 1
    assert "no CUDA GPU" in one_error_line(capsys.readouterr().err)


def test_accompany_output_paths(good_song: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A missing folder is made; a folder, a path under a file and an empty name are refused before
    any work."""
    deep = tmp_path / "missing" / "deeper" / "o.mid"
    assert main(["accompany", str(good_song), "-o", str(deep)]) == 0 and deep.is_file()
    capsys.readouterr()
    for output, expected in ((tmp_path, "not a folder"), (good_song / "o.mid", "is a file, not a folder"),
                             ("", "not a folder")):
        assert main(["accompany", str(good_song), "-o", str(output)]) == 1
        assert expected in one_error_line(capsys.readouterr().err)


# ---- through a real process: not one line of traceback ---------------------------------------


def _livedrum(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("LIVEDRUM_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "livedrum", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


@pytest.mark.parametrize("name", ["cut-at-0040", "cut-at-0023", "text", "header-smpte", "track-running-status-garbage",
                                  "a-folder", "drums-but-no-band"])
def test_accompany_in_a_real_process(name: str, corpus, tmp_path) -> None:  # noqa: ANN001
    path, expected = corpus[name]
    proc = _livedrum("accompany", str(path), "-o", str(tmp_path / "o.mid"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert expected in one_error_line(proc.stderr)
    assert proc.stderr.count("\n") == 1


def test_usage_errors_in_a_real_process(good_song, tmp_path) -> None:  # noqa: ANN001
    for argv in (["accompany", str(good_song)], ["accompany", str(good_song), "-o", "x.mid", "--complexity", "x"],
                 ["nonsense"], ["eval", "--limit", "many"]):
        proc = _livedrum(*argv)
        assert proc.returncode == 2, proc.stderr
        assert "see livedrum" in one_error_line(proc.stderr) and proc.stderr.count("\n") == 1


# ---- eval --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory, corpus, good_song: Path) -> Path:  # noqa: ANN001
    """Every broken file (but the drums-only one, which is a real song to score) and one good song."""
    folder = tmp_path_factory.mktemp("mixed") / "songs"
    folder.mkdir()
    for name, (path, _) in corpus.items():
        if name in ("missing", "drums-but-no-band"):
            continue
        if path.is_dir():
            (folder / path.name).mkdir()
        else:
            (folder / path.name).write_bytes(path.read_bytes())
    (folder / "dangling-link.mid").symlink_to(folder / "gone.mid")
    (folder / "zz-good.mid").write_bytes(good_song.read_bytes())
    return folder


def test_eval_skips_broken_files_with_a_reason_and_scores_the_good_one(mixed_folder: Path, capsys) -> None:  # noqa: ANN001
    import json

    assert main(["eval", str(mixed_folder), "--json"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "livedrum:" not in captured.err, captured.err
    report = json.loads(captured.out)
    assert report["songs"] == ["songs/zz-good.mid"]
    assert report["skipped"] == ["songs/only-meta-events.mid"]  # read, but no drums to compare with
    assert {r["drummer"] for r in report["rows"]} == {"livedrum", "fixed rock beat", "onset mirror"}
    reasons = {line.split(": ", 1)[0].removeprefix("skipped "): line.split(": ", 1)[1]
               for line in captured.err.splitlines() if line.startswith("skipped songs/")}
    unreadable = {f"songs/{p.name}" for p in mixed_folder.iterdir() if p.is_file() or p.is_symlink()} - {
        "songs/zz-good.mid", "songs/only-meta-events.mid"}
    assert set(reasons) == unreadable and all(reasons.values())
    assert "cannot read" in reasons["songs/dangling-link.mid"]


def test_eval_with_only_broken_files_says_so(corpus, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("cut-at-0040", "text", "header-smpte", "wav", "empty"):
        (broken / corpus[name][0].name).write_bytes(corpus[name][0].read_bytes())
    assert main(["eval", str(broken), "--no-model"]) == 1
    assert "nothing to evaluate" in last_error_line(capsys.readouterr().err)
    unscorable = tmp_path / "unscorable"
    unscorable.mkdir()
    (unscorable / "meta.mid").write_bytes(corpus["only-meta-events"][0].read_bytes())
    assert main(["eval", str(unscorable), "--no-model"]) == 1
    assert "nothing could be scored" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("options", "expected"), [
    (["--limit", "-1"], "--limit must be 0"),
    (["--thesis", "{models}/garbage.pt"], "thesis model file"),
    (["--thesis", "{models}/thesis-without-weights.pt"], "thesis model file"),
    (["--thesis", "{models}/nope.pt"], "model file not found"),
    (["--model", "{models}/wrong-kind.pt"], "not a livedrum model file"),
    (["--json", "{song}/report.json"], "is a file, not a folder"),
    (["--plot", "{tmp}"], "not a folder"),
    (["--humanize", "2"], "--humanize must be within 0..1"),
])
def test_eval_with_bad_options(options: list[str], expected: str, bad_models, good_song, tmp_path,
                               capsys) -> None:  # noqa: ANN001
    models = bad_models["garbage"][0].parent
    options = [o.format(models=models, song=good_song, tmp=tmp_path) for o in options]
    assert main(["eval", str(good_song), *options]) == 1
    assert expected in one_error_line(capsys.readouterr().err)


# ---- train -------------------------------------------------------------------------------------

TINY = ["--epochs", "1", "--streams", "2", "--chunk-beats", "8", "--enc-hidden", "8", "--dec-hidden", "8",
        "--max-batches", "2", "--workers", "1", "--calibrate-songs", "1"]


@pytest.fixture(scope="module")
def only_broken(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("only-broken") / "songs"
    folder.mkdir()
    for path, _ in corpus.values():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_train_on_only_broken_files_says_there_is_nothing_to_train_on(only_broken: Path, tmp_path: Path,
                                                                       capsys) -> None:  # noqa: ANN001
    argv = ["train", str(only_broken), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), *TINY]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "nothing to train on" in last_error_line(captured.err)
    assert "skipped" in captured.out  # the reasons, by kind
    assert not (tmp_path / "run" / "model.pt").exists()
    assert main(argv) == 1  # the cached build says the same
    assert "nothing to train on" in last_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("options", "expected"), [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--streams", "0"], "--streams must be at least 1"),
    (["--chunk-beats", "0"], "--chunk-beats must be at least 1"),
    (["--enc-hidden", "0"], "--enc-hidden must be at least 1"),
    (["--threads", "-1"], "--threads must be at least 0"),
    (["--lr", "nan"], "--lr must be a number above 0"),
    (["--clip", "-1"], "--clip must be a number above 0"),
    (["--dropout", "2"], "--dropout must be within 0..1"),
    (["--device", "bogus"], "not a device"),
    (["--out", "{song}"], "is a file, not a folder"),
    (["--cache", "{song}"], "is a file, not a folder"),
    (["--epochs", "many"], "invalid int value"),
])
def test_train_with_bad_options(options: list[str], expected: str, only_broken, good_song, tmp_path,
                                capsys) -> None:  # noqa: ANN001
    options = [o.format(song=good_song) for o in options]
    argv = ["train", str(only_broken), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), *TINY]
    assert main([*argv, *options]) in (1, 2)
    assert expected in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "cache").exists()  # refused before any work


def test_train_on_a_missing_folder(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["train", str(tmp_path / "nothing-here"), "--cache", str(tmp_path / "c"), *TINY]) == 1
    assert "no such file or folder" in one_error_line(capsys.readouterr().err)


# ---- demo --band -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cut-at-0040", "empty", "text", "wav", "header-smpte", "header-ticks-0",
                                  "track-too-long", "huge-delta-times", "only-meta-events", "drums-but-no-band",
                                  "a-folder", "missing"])
def test_demo_with_a_broken_band_file(name: str, corpus, tmp_path, capsys) -> None:  # noqa: ANN001
    path, expected = corpus[name]
    out = tmp_path / "demo.mid"
    assert main(["demo", "--band", str(path), "--no-port", "--quiet", "-o", str(out)]) == 1
    assert expected in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("options", "expected"), [
    (["--swing", "2"], "swing must be within 0..1"),
    (["--humanize", "inf"], "--humanize must be within 0..1"),
    (["--model", "{models}/sampling-wrong-types.pt"], "damaged sampling"),
    (["--model", "{models}/thesis-without-weights.pt"], "thesis model file"),
    (["-o", "{tmp}"], "cannot create the MIDI recording"),
])
def test_demo_with_bad_options(options: list[str], expected: str, good_song, bad_models, tmp_path,
                               capsys) -> None:  # noqa: ANN001
    models = bad_models["garbage"][0].parent
    options = [o.format(models=models, tmp=tmp_path) for o in options]
    argv = ["demo", "--band", str(good_song), "--no-port", "--quiet", "--bars", "1", "-o", str(tmp_path / "d.mid")]
    assert main([*argv, *options]) == 1
    assert expected in one_error_line(capsys.readouterr().err)


def test_demo_in_a_real_process(corpus, tmp_path) -> None:  # noqa: ANN001
    path, expected = corpus["track-running-status-garbage"]
    proc = _livedrum("demo", "--band", str(path), "--no-port", "--quiet", "-o", str(tmp_path / "d.mid"))
    assert proc.returncode == 1 and expected in one_error_line(proc.stderr)
    assert proc.stderr.count("\n") == 1
