"""`livedrum eval`'s report on songs written as real MIDI files, and on shared songs when present."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import mido
import numpy as np
import pytest

from livedrum.baselines import BASELINES
from livedrum.evaluate import MIN_DRUM_HITS, Report, evaluate, source_of, without_drums
from livedrum.midifile import load_song
from livedrum.song import Notes, Song

TPB = 480
FREEDOOM = Path("/work/shared/data/midi/freedoom")


def write_song(path: Path, bars: int, drum_pattern: list[tuple[float, int]], bass_every: float) -> Song:
    """A 4/4 song: a held chord, a bass line every `bass_every` beats, a drum bar repeated."""
    notes = [(0.0, bars * 4.0, 60, 0), (0.0, bars * 4.0, 64, 0)]
    notes += [(t, t + bass_every / 2, 40, 1) for t in np.arange(0, bars * 4, bass_every)]
    notes += [(bar * 4 + t, bar * 4 + t + 0.1, p, 9) for bar in range(bars) for t, p in drum_pattern]
    events = []
    for start, end, pitch, channel in notes:
        on = mido.Message("note_on", note=pitch, velocity=90, channel=channel)
        events.append((round(start * TPB), 1, on))
        events.append((round(end * TPB), 0, mido.Message("note_off", note=pitch, channel=channel)))
    track, now = mido.MidiTrack(), 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    mid.tracks.append(track)
    mid.save(path)
    return load_song(path)


@pytest.fixture
def songs(tmp_path) -> list[Song]:
    rock = [(0, 36), (2, 36), (1, 38), (3, 38)] + [(i / 2, 42) for i in range(8)]
    funk = [(0, 36), (0.75, 36), (2.5, 36), (1, 38), (3, 38), (3.75, 38)] + [(i / 4, 42) for i in range(16)]
    shuffle = [(0, 36), (2, 36), (1, 38), (3, 38)] + [(b + s, 42) for b in range(4) for s in (0, 2 / 3)]
    return [
        write_song(tmp_path / "rock.mid", 8, rock, 1.0),
        write_song(tmp_path / "funk.mid", 8, funk, 0.5),
        write_song(tmp_path / "shuffle.mid", 6, shuffle, 2 / 3),
        write_song(tmp_path / "no_drums.mid", 8, [(0, 36)], 1.0),  # 8 hits: too few, skipped
    ]


def oracle_for(songs: list[Song]):  # noqa: ANN201
    """A drummer that plays the real drums: it looks them up, as it gets the song without them."""
    real = {s.name: s.drums for s in songs}

    def play(song: Song) -> Notes:
        assert len(song.drums) == 0
        return real[song.name]

    return play


def test_without_drums_copies(songs):
    song = songs[0]
    bare = without_drums(song)
    assert len(bare.drums) == 0 and len(song.drums) == 8 * 12
    assert np.array_equal(bare.band.start, song.band.start) and bare.band.start is not song.band.start
    bare.band.pitch[:] = 0
    assert song.band.pitch.max() > 0
    assert bare.time_signatures == song.time_signatures and bare.length_beats == song.length_beats


def test_report_with_baselines_and_oracle(songs, tmp_path):
    report = evaluate(songs, {**BASELINES, "oracle": oracle_for(songs)}, progress=False)
    assert isinstance(report, Report)
    assert report.baselines == ["fixed_rock_beat", "onset_mirror"]
    assert report.songs == ["rock.mid", "funk.mid", "shuffle.mid"]
    assert report.skipped == ["no_drums.mid"]
    assert len(report.rows) == 3 * 3 and not report.failures
    means = report.means()
    assert means["oracle"].mean_f1 == 1.0 and means["oracle"].f1 == {"kick": 1.0, "snare": 1.0, "hihat": 1.0}
    assert means["oracle"].overlap == pytest.approx(1.0) and means["oracle"].density == 1.0
    # the fixed beat plays exactly the rock song's part
    rock = next(r.scores for r in report.rows if r.song == "rock.mid" and r.drummer == "fixed_rock_beat")
    assert rock.mean_f1 == 1.0 and rock.density == 1.0
    assert means["fixed_rock_beat"].songs == 3
    assert 0 < means["onset_mirror"].mean_f1 < 1

    table = report.format_table()
    for name in ("fixed_rock_beat", "onset_mirror", "oracle", "overlap", "density", "F1/base"):
        assert name in table
    assert "3 songs scored, 1 skipped" in table
    best_name, best_f1 = report.best_baseline()
    assert best_name in BASELINES and best_f1 == max(means[n].mean_f1 for n in BASELINES)
    oracle_line = next(line for line in table.splitlines() if line.startswith("oracle"))
    assert oracle_line.split()[-1] == f"{1 / best_f1:.3f}"

    data = json.loads(json.dumps(report.to_json()))
    assert data["drummers"]["oracle"]["mean_f1"] == 1.0
    assert data["skipped"] == ["no_drums.mid"] and data["min_drum_hits"] == MIN_DRUM_HITS
    assert len(data["rows"]) == 9 and {"song", "drummer", "f1", "overlap", "density"} <= set(data["rows"][0])

    png = tmp_path / "report.png"
    report.plot(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_failing_drummer_is_recorded_not_fatal(songs):
    def picky(song: Song) -> Notes:
        if song.name == "funk.mid":
            raise ValueError("cannot play funk")
        return BASELINES["fixed_rock_beat"](song)

    report = evaluate(songs, {"picky": picky, "onset_mirror": BASELINES["onset_mirror"]}, progress=False)
    failed = [(f.song, f.drummer, f.reason) for f in report.failures]
    assert failed == [("funk.mid", "picky", "cannot play funk")]
    means = report.means()
    assert means["picky"].songs == 2 and means["picky"].failed == 1
    assert means["onset_mirror"].songs == 3
    assert "picky" in report.format_table()
    assert report.to_json()["failures"][0]["reason"] == "cannot play funk"


def test_a_bug_in_a_drummer_propagates(songs):
    def broken(song: Song) -> Notes:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        evaluate(songs, {"broken": broken}, progress=False)


def test_baselines_are_known_under_any_name(songs):
    renamed = {"rock": BASELINES["fixed_rock_beat"], "mirror": BASELINES["onset_mirror"]}
    renamed["me"] = oracle_for(songs)
    report = evaluate(songs, renamed, progress=False)
    assert report.baselines == ["rock", "mirror"]
    assert report.best_baseline()[0] in ("rock", "mirror")
    assert "F1/base" in report.format_table()


def test_report_without_baselines_or_songs(tmp_path):
    report = evaluate([], {"silent": lambda s: Notes.empty()}, progress=False)
    assert report.best_baseline() is None
    assert "F1/base" not in report.format_table()
    assert report.means()["silent"].mean_f1 is None
    json.dumps(report.to_json())
    report.plot(tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_silent_drummer_scores_zero(songs):
    report = evaluate(songs[:1], {"silent": lambda s: Notes.empty()}, progress=False)
    m = report.means()["silent"]
    assert m.mean_f1 == 0.0 and m.overlap == 0.0 and m.density == 0.0


def test_real_songs(tmp_path):
    paths = sorted(FREEDOOM.glob("*.mid"))[:3] if FREEDOOM.is_dir() else []
    if not paths:
        pytest.skip("shared data not present")
    real = [load_song(p) for p in paths]
    report = evaluate(real, {**BASELINES, "oracle": oracle_for(real)}, progress=False)
    means = report.means()
    assert means["oracle"].mean_f1 == 1.0
    for name in BASELINES:
        assert 0.0 < means[name].mean_f1 < 1.0
    report.plot(tmp_path / "real.png")
    assert (tmp_path / "real.png").stat().st_size > 10_000


def test_source_of_names_the_collection():
    assert source_of("beatles/01 - Help!/help.mid0") == "beatles"
    assert source_of("touhou.tar.xz:touhou/1 - Shooter Games/a.mid") == "touhou"
    assert source_of("song.mid") == ""


def test_the_report_breaks_f1_down_by_source(songs):  # noqa: ANN001
    sources = ("pop", "x.tar.xz:groove", "x.tar.xz:groove", "pop")
    named = [replace(song, name=f"{source}/{song.name}") for song, source in zip(songs, sources)]
    report = evaluate(named, {**BASELINES, "oracle": oracle_for(named)}, progress=False)
    by_source = report.by_source()
    assert list(by_source) == ["groove", "pop"]
    assert by_source["groove"]["songs"] == 2 and by_source["pop"]["songs"] == 1  # the drumless song is skipped
    assert by_source["groove"]["mean_f1"]["oracle"] == pytest.approx(1.0)
    rock = {r.song: r.scores.mean_f1 for r in report.rows if r.drummer == "fixed_rock_beat"}
    assert by_source["pop"]["mean_f1"]["fixed_rock_beat"] == pytest.approx(rock["pop/rock.mid"])
    assert by_source["groove"]["mean_f1"]["fixed_rock_beat"] == pytest.approx(
        (rock["x.tar.xz:groove/funk.mid"] + rock["x.tar.xz:groove/shuffle.mid"]) / 2)
    table = report.format_table()
    assert "mean F1 by source:" in table
    assert any(line.startswith("groove") and line.split()[1] == "2" for line in table.splitlines())
    assert json.loads(json.dumps(report.to_json()))["by_source"]["pop"]["songs"] == 1


def test_one_source_gets_no_breakdown(songs):  # noqa: ANN001
    report = evaluate(songs, dict(BASELINES), progress=False)
    assert "by source" not in report.format_table()
