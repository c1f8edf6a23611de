"""The baselines on band parts written as real MIDI files and read back with load_song."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from livedrum.baselines import BASELINES, band_beats, fixed_rock_beat, merged_onsets, onset_mirror
from livedrum.midifile import load_song
from livedrum.song import Notes, Song

TPB = 480


def write_midi(
    path: Path,
    notes: list[tuple[float, float, int, int]],
    signatures: tuple[tuple[float, int, int], ...] = ((0.0, 4, 4),),
) -> Path:
    """A type-1 file: (start beat, end beat, pitch, channel) notes; (beat, num, den) signatures."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    events: list[tuple[int, int, mido.Message]] = []
    for beat, num, den in signatures:
        meta = mido.MetaMessage("time_signature", numerator=num, denominator=den)
        events.append((round(beat * TPB), 0, meta))
    for start, end, pitch, channel in notes:
        on = mido.Message("note_on", note=pitch, velocity=90, channel=channel)
        events.append((round(start * TPB), 2, on))
        events.append((round(end * TPB), 1, mido.Message("note_off", note=pitch, channel=channel)))
    track = mido.MidiTrack()
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    mid.tracks.append(track)
    mid.save(path)
    return path


def song_of(tmp_path: Path, notes, signatures=((0.0, 4, 4),)) -> Song:  # noqa: ANN001
    return load_song(write_midi(tmp_path / "band.mid", notes, signatures))


def onsets(notes: Notes, pitch: int) -> list[float]:
    return [float(t) for t in notes.start[notes.pitch == pitch]]


def test_fixed_beat_on_four_bars_of_four_four(tmp_path):
    # a chord held for 4 bars of 4/4, then a bass line on every beat: 16 played beats in all
    song = song_of(tmp_path, [(0, 8, 60, 0), (0, 8, 64, 0)] + [(b, b + 1, 40, 1) for b in range(8, 16)])
    out = fixed_rock_beat(song)
    assert onsets(out, 36) == [0, 2, 4, 6, 8, 10, 12, 14]  # 2 kicks a bar, on 1 and 3
    assert onsets(out, 38) == [1, 3, 5, 7, 9, 11, 13, 15]  # 2 snares a bar, on 2 and 4
    assert onsets(out, 42) == [i / 2 for i in range(32)]  # 8 eighth hats a bar
    assert len(out) == 8 + 8 + 32
    assert set(out.channel.tolist()) == {9}
    hats = out.velocity[out.pitch == 42]
    assert hats[0] > hats[1]  # accent on the beat
    assert np.all(out.end - out.start > 0)


def test_fixed_beat_is_silent_where_the_band_is(tmp_path):
    # band in bar 1, silent in bar 2, a short stab on beat 3 of bar 3 (beat 10.25)
    song = song_of(tmp_path, [(0, 4, 48, 0), (10.25, 10.5, 60, 0)])
    out = fixed_rock_beat(song)
    assert not np.any((out.start >= 4) & (out.start < 10))  # a note ending at beat 4 leaves beat 4 empty
    assert onsets(out, 36) == [0, 2, 10]
    assert onsets(out, 38) == [1, 3]
    assert onsets(out, 42) == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 10, 10.5]
    assert len(fixed_rock_beat(song_of(tmp_path, []))) == 0


def test_fixed_beat_in_other_meters(tmp_path):
    waltz = song_of(tmp_path, [(0, 6, 60, 0)], signatures=((0.0, 3, 4),))
    out = fixed_rock_beat(waltz)
    assert onsets(out, 36) == [0, 3]  # K S S
    assert onsets(out, 38) == [1, 2, 4, 5]
    six_eight = song_of(tmp_path, [(0, 6, 60, 0)], signatures=((0.0, 6, 8),))
    out = fixed_rock_beat(six_eight)
    assert onsets(out, 36) == [0, 3]  # dotted-quarter pulses: kick on 1, snare on 4 (of six eighths)
    assert onsets(out, 38) == [1.5, 4.5]
    assert len(onsets(out, 42)) == 12  # every eighth
    # one 4/4 bar, then 3/4 from beat 4
    mixed = song_of(tmp_path, [(0, 10, 60, 0)], signatures=((0.0, 4, 4), (4.0, 3, 4)))
    out = fixed_rock_beat(mixed)
    assert onsets(out, 36) == [0, 2, 4, 7]
    assert onsets(out, 38) == [1, 3, 5, 6, 8, 9]


def test_baselines_ignore_the_real_drums_and_are_deterministic(tmp_path):
    band = [(b, b + 0.5, 40 + b % 12, 0) for b in range(8)]
    with_drums = song_of(tmp_path, band + [(b, b + 0.1, 36, 9) for b in range(8)])
    without = song_of(tmp_path, band)
    assert len(with_drums.drums) == 8
    for drummer in BASELINES.values():
        a, b = drummer(with_drums), drummer(without)
        assert np.array_equal(a.start, b.start) and np.array_equal(a.pitch, b.pitch)
        assert np.array_equal(drummer(without).start, b.start)


def test_onset_mirror_mirrors_onsets(tmp_path):
    band = [
        (0.0, 1.0, 40, 1),  # bass: kick and hat
        (0.02, 1.0, 64, 0),  # 1/50 beat later: merged into the onset at 0
        (0.75, 1.0, 67, 0),  # hat
        (1.5, 2.0, 36, 1),  # bass: kick and hat
        (2.0, 4.0, 60, 0),  # hat
        (3.25, 3.5, 72, 0),  # hat
    ]
    out = onset_mirror(song_of(tmp_path, band))
    assert onsets(out, 42) == [0.0, 0.75, 1.5, 2.0, 3.25]
    assert onsets(out, 36) == [0.0, 1.5]
    assert onsets(out, 38) == [1.0, 3.0]  # the backbeat, where the band plays
    assert len(out) == 9
    # no band in bar 2: no backbeat there
    out = onset_mirror(song_of(tmp_path, [(0, 4, 60, 0), (8, 12, 60, 0)]))
    assert onsets(out, 38) == [1.0, 3.0, 9.0, 11.0]
    assert onsets(out, 42) == [0.0, 8.0]
    assert onsets(out, 36) == []


def test_helpers():
    assert merged_onsets(np.array([1.0, 0.0, 0.03, 0.05, 1.0])).tolist() == [0.0, 0.05, 1.0]
    song = Song("s", Notes.from_lists([0.5, 3.0], [0.6, 4.0], [60, 60], [90, 90], [0, 0], [0, 0]),
                Notes.empty(), length_beats=6.0)
    assert band_beats(song).tolist() == [True, False, False, True, False, False]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_on_real_song(name):
    path = Path("/work/shared/data/midi/freedoom/d_e1m1.mid")
    if not path.exists():
        pytest.skip("shared data not present")
    song = load_song(path)
    out = BASELINES[name](song)
    assert len(out) > 100
    assert out.start.min() >= 0 and out.start.max() <= song.length_beats + 1
