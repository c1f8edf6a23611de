"""dataset: build real MIDI files into cached shards, skip unusable ones with reasons, load back."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from livedrum import dataset
from livedrum.corpus import data_root, default_paths, discover, groove_paths, split_of
from livedrum.dataset import Summary, build, load_split
from livedrum.features import song_arrays
from livedrum.midifile import DRUM_CHANNEL, load_song
from tests.conftest import write_band_song
from tests.midi_builders import TPB, build_track, midi_file, note, to_bytes
from tests.test_corpus import write_tar

BROKEN = b"MThd\x00\x00\x00\x06garbage"


def drums_and_band(path: Path, hits: int, beats: int, band: bool = True) -> Path:
    """`hits` hi-hat sixteenths from beat 0, optionally a bass note per beat, `beats` long."""
    drums = [e for i in range(hits) for e in note(i * TPB // 4, i * TPB // 4 + 30, 42, 90, DRUM_CHANNEL)]
    tracks = [build_track(drums, end_tick=beats * TPB)]
    if band:
        tracks.append(build_track([e for b in range(beats) for e in note(b * TPB, (b + 1) * TPB, 40)]))
    path.write_bytes(to_bytes(midi_file(tracks)))
    return path


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """7 usable songs (two Beatles-style alternatives, two in an archive) and 7 files to skip."""
    band = tmp_path / "band"
    band.mkdir()
    for i in range(3):
        write_band_song(band / f"song{i:02d}.mid", bars=4, seed=i)
    write_band_song(band / "Help.mid0", bars=5, seed=10)
    write_band_song(band / "Help.mid1", bars=6, seed=11)
    (band / "corrupt.mid").write_bytes(BROKEN)
    write_band_song(band / "nodrums.mid", bars=4, drums=False)
    drums_and_band(band / "fewdrums.mid", hits=8, beats=16)
    drums_and_band(band / "short.mid", hits=16, beats=4)
    drums_and_band(band / "noband.mid", hits=64, beats=16, band=False)
    (band / "zz-copy.mid").write_bytes((band / "song00.mid").read_bytes())
    extra = tmp_path / "extra"
    extra.mkdir()
    members = {"extra/a.mid": write_band_song(extra / "a.mid", bars=4, seed=20).read_bytes(),
               "extra/b.mid": write_band_song(extra / "b.mid", bars=8, seed=21).read_bytes(),
               "extra/broken.mid": BROKEN + b"2", "extra/readme.txt": b"not midi"}
    write_tar(tmp_path / "extra.tar.xz", members)
    return tmp_path


def sources_of(root: Path) -> list:
    return discover([root / "band", root / "extra.tar.xz"])


GOOD = {"band/song00.mid", "band/song01.mid", "band/song02.mid", "band/Help.mid0", "band/Help.mid1",
        "extra.tar.xz:extra/a.mid", "extra.tar.xz:extra/b.mid"}


def test_build_keeps_usable_songs_and_counts_skips_by_reason(corpus_dir: Path, tmp_path: Path) -> None:
    sources = sources_of(corpus_dir)
    summary = build(sources, tmp_path / "cache", workers=1, progress=False)
    assert summary.n_files == len(sources) == 14
    assert summary.n_songs == len(GOOD) and summary.n_songs + summary.n_skipped == summary.n_files
    reasons = {reason.split(":")[0]: n for reason, n in summary.skipped.items()}
    assert summary.skipped["unreadable: not a readable MIDI file: EOFError"] == 2
    assert reasons == {"unreadable": 2, "no drums": 1, "too few drum hits (<16)": 1,
                       "too short (<8 beats)": 1, "no band notes": 1, "duplicate (identical bytes)": 1}
    assert sum(summary.songs[s].get("band", 0) for s in summary.songs) == 5
    assert sum(summary.songs[s].get("extra", 0) for s in summary.songs) == 2
    skipped = (tmp_path / "cache" / "skipped.tsv").read_text()
    assert "band/zz-copy.mid\tduplicate of band/song00.mid" in skipped
    assert "band/fewdrums.mid\ttoo few drum hits (<16)" in skipped
    text = summary.format()
    assert "7 songs" in text and "from 14 files" in text
    assert "skipped 7 files: 2 unreadable (2 not a readable MIDI file: EOFError)" in text
    assert Summary(**asdict(summary)) == summary


def test_a_file_gone_since_discovery_is_skipped_not_fatal(corpus_dir: Path, tmp_path: Path) -> None:
    sources = sources_of(corpus_dir)
    (corpus_dir / "band" / "song01.mid").unlink()
    summary = build(sources, tmp_path / "cache", workers=1, progress=False)
    assert summary.skipped["unreadable: cannot read file: No such file or directory"] == 1
    assert summary.n_songs == len(GOOD) - 1


def test_round_trip_equals_song_arrays_of_the_original(corpus_dir: Path, tmp_path: Path) -> None:
    sources = {s.label: s for s in sources_of(corpus_dir)}
    summary = build(list(sources.values()), tmp_path / "cache", workers=1, progress=False)
    records = {split: load_split(tmp_path / "cache", split) for split in ("train", "validation", "test")}
    assert {r.label for rs in records.values() for r in rs} == GOOD
    seconds = 0.0
    for split, recs in records.items():
        assert len(recs) == sum(summary.songs.get(split, {}).values())
        for rec in recs:
            src = sources[rec.label]
            assert (rec.song_id, rec.collection) == (src.song_id, src.collection)
            assert split_of(rec.song_id) == split
            song = load_song(src.read_bytes(), src.label)
            seconds += float(song.seconds_at(song.length_beats))
            want, got = song_arrays(song), rec.arrays
            for key in ("band", "position", "velocity", "offset"):
                assert getattr(got, key).dtype == np.float32
                np.testing.assert_allclose(getattr(got, key), getattr(want, key), atol=2e-3, rtol=1e-3)
            assert got.hits.dtype == bool and np.array_equal(got.hits, want.hits)
            assert np.array_equal(got.bar, want.bar) and np.array_equal(got.beat_in_bar, want.beat_in_bar)
    help_ids = {r.song_id for rs in records.values() for r in rs if "Help" in r.label}
    assert len(help_ids) == 1  # the two alternatives are one song, so one split
    hours = sum(sum(per.values()) for per in summary.hours.values())
    assert hours == pytest.approx(seconds / 3600)
    # float16 on request: the stored arrays, no copy
    half = load_split(tmp_path / "cache", "train", dtype=np.float16)
    assert all(r.arrays.band.dtype == np.float16 for r in half)


def test_second_build_is_a_cache_hit_until_a_source_changes(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = sources_of(corpus_dir)
    first = build(sources, tmp_path / "cache", workers=1, progress=False)
    runs = []
    real_run = dataset._run
    monkeypatch.setattr(dataset, "_run", lambda *a: runs.append(a) or real_run(*a))
    assert build(sources, tmp_path / "cache", workers=1, progress=False) == first
    assert runs == []  # nothing parsed
    song = corpus_dir / "band" / "song01.mid"
    write_band_song(song, bars=8, seed=1)
    os.utime(song, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = build(discover([corpus_dir / "band", corpus_dir / "extra.tar.xz"]), tmp_path / "cache",
                  workers=1, progress=False)
    assert len(runs) == 1 and again.n_songs == first.n_songs
    assert again.hours != first.hours


def test_an_interrupted_build_leaves_no_manifest(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    build(sources_of(corpus_dir), cache, workers=1, progress=False)
    song = corpus_dir / "band" / "song02.mid"
    os.utime(song, ns=(time.time_ns(), time.time_ns() + 10**9))

    def disk_full(self: object) -> list[str]:
        raise OSError("disk full")

    monkeypatch.setattr(dataset._ShardWriter, "close", disk_full)
    with pytest.raises(OSError, match="disk full"):
        build(sources_of(corpus_dir), cache, workers=1, progress=False)
    assert not (cache / "manifest.json").exists()
    with pytest.raises(ValueError, match="no built dataset"):
        load_split(cache, "train")
    monkeypatch.undo()
    assert build(sources_of(corpus_dir), cache, workers=1, progress=False).n_songs == len(GOOD)


def test_worker_processes_give_the_same_dataset(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset, "START_METHOD", "spawn")  # what macOS and Windows use
    sources = sources_of(corpus_dir)
    serial = build(sources, tmp_path / "one", workers=1, progress=False)
    parallel = build(sources, tmp_path / "two", workers=2, progress=False)
    assert parallel == serial
    for split in ("train", "validation", "test"):
        a, b = load_split(tmp_path / "one", split), load_split(tmp_path / "two", split)
        assert [r.label for r in a] == [r.label for r in b]
        for ra, rb in zip(a, b):
            assert np.array_equal(ra.arrays.band, rb.arrays.band)
            assert np.array_equal(ra.arrays.hits, rb.arrays.hits)


@pytest.mark.slow
def test_whole_shared_corpus_builds_and_adds_up(tmp_path: Path) -> None:
    try:
        root = data_root(None)
    except ValueError:
        pytest.skip("shared data not available")
    sources = discover(default_paths(root))
    summary = build(sources, tmp_path / "cache", workers=2, progress=False)
    assert summary.n_files == len(sources) > 4000
    assert summary.n_songs + summary.n_skipped == summary.n_files
    assert summary.n_songs > 3000
    collections = {c for per in summary.songs.values() for c in per}
    assert collections == {"beatles", "freedoom", "casio", "synth-demos", "touhou", "jamboree",
                           "yamaha-styles"}
    for split in ("train", "validation", "test"):
        assert sum(summary.songs[split].values()) > 100
    validation = load_split(tmp_path / "cache", "validation")
    assert len(validation) == sum(summary.songs["validation"].values())
    # the drums-only Groove set: found, and every file loads or fails with a reason
    groove = discover(groove_paths(root))
    assert len(groove) >= 1100 and {s.collection for s in groove} == {"groove"}
    loaded = 0
    for src in groove:
        try:
            song = load_song(src.read_bytes(), src.label)
        except ValueError:
            continue
        loaded += 1
        assert len(song.drums) > 0
    assert loaded > 1000
