"""Writing the accompaniment: the input's own tracks and meter, plus a clean drum track."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import mido
import numpy as np
import pytest

from livedrum.grid import TimeSignature
from livedrum.midifile import DRUM_CHANNEL, load_song
from livedrum.midiwrite import drum_track, write_accompaniment
from livedrum.song import Notes
from tests.midi_builders import (
    TPB,
    absolute,
    build_track,
    midi_file,
    note,
    off,
    on,
    program,
    tempo,
    time_signature,
    to_bytes,
)

NOTE_TYPES = {"note_on", "note_off", "polytouch"}


def source_file() -> mido.MidiFile:
    """Type 1: tempo changes and 3/4 -> 4/4 in the first track; band tracks with drums mixed in."""
    meta = build_track([tempo(0, 96), time_signature(0, 3, 4), tempo(3 * TPB, 140),
                        time_signature(6 * TPB, 4, 4), tempo(8 * TPB, 70)], end_tick=12 * TPB, name="meta")
    band = build_track([
        program(0, 33), *note(0, TPB, 40, 100), *note(TPB, 3 * TPB, 43, 90),
        *note(TPB // 2, TPB, 36, 120, channel=DRUM_CHANNEL),  # a drum note inside a band track
        (2 * TPB, mido.Message("control_change", channel=DRUM_CHANNEL, control=7, value=90)),
        on(6 * TPB, 47, 80), off(7 * TPB, 47, zero_velocity_on=True),
    ], end_tick=11 * TPB, name="bass")
    keys = build_track([
        *note(3 * TPB, 6 * TPB, 64, 70, channel=1), *note(3 * TPB, 6 * TPB, 67, 70, channel=1),
        (4 * TPB, mido.Message("pitchwheel", channel=1, pitch=300)),
    ], name="keys")
    drums = build_track([
        *note(0, 10, 36, 110, channel=DRUM_CHANNEL), *note(TPB, TPB + 10, 38, 100, channel=DRUM_CHANNEL),
        (TPB + 5, mido.Message("polytouch", channel=DRUM_CHANNEL, note=38, value=50)),
        *note(2 * TPB, 2 * TPB + 10, 42, 80, channel=DRUM_CHANNEL),
    ], name="drums")
    return midi_file([meta, band, keys, drums])


def new_drums() -> Notes:
    start = [0.0, 0.0, 1.0, 1.5, 2.0, 2.5, 7.25]
    pitch = [36, 42, 38, 42, 36, 42, 49]
    return Notes.from_lists(start, [s + 0.1 for s in start], pitch, [120, 80, 100, 70, 110, 60, 127],
                            [DRUM_CHANNEL] * 7, [0] * 7)


def is_drum_note(msg: mido.Message | mido.MetaMessage) -> bool:
    return msg.type in NOTE_TYPES and msg.channel == DRUM_CHANNEL


@pytest.fixture
def written(tmp_path: Path) -> tuple[mido.MidiFile, mido.MidiFile, Path]:
    src = source_file()
    out = tmp_path / "out" / "song.mid"  # the folder does not exist yet
    write_accompaniment(to_bytes(src), new_drums(), out)
    return src, mido.MidiFile(str(out)), out


def test_output_is_type_one_with_one_more_track(written):
    src, result, _ = written
    assert result.type == 1
    assert result.ticks_per_beat == TPB
    assert len(result.tracks) == len(src.tracks) + 1
    assert result.tracks[-1].name == "livedrum drums"


def test_input_tracks_keep_every_other_event_at_its_absolute_tick(written):
    src, result, _ = written
    for before, after in zip(src.tracks, result.tracks):
        expected = [(t, m) for t, m in absolute(before) if not is_drum_note(m)]
        assert absolute(after) == expected
    # the meta track (tempo map, meters) comes through whole
    assert absolute(result.tracks[0]) == absolute(src.tracks[0])


def test_channel_ten_notes_are_removed_but_its_controllers_stay(written):
    _, result, _ = written
    kept = [m for track in result.tracks[:-1] for m in track if getattr(m, "channel", None) == DRUM_CHANNEL]
    assert [m.type for m in kept] == ["control_change"]
    assert [m.name for m in result.tracks[:-1]] == ["meta", "bass", "keys", "drums"]


def test_band_notes_survive_note_for_note(written):
    src, result, _ = written
    before, after = load_song(to_bytes(src)), load_song(to_bytes(result))
    for attr in ("start", "end", "pitch", "velocity", "channel", "program"):
        np.testing.assert_array_equal(getattr(before.band, attr), getattr(after.band, attr))
    assert after.tempos == before.tempos == [(0.0, mido.bpm2tempo(96)), (3.0, mido.bpm2tempo(140)),
                                             (8.0, mido.bpm2tempo(70))]
    assert after.time_signatures == before.time_signatures == [TimeSignature(0.0, 3, 4),
                                                               TimeSignature(6.0, 4, 4)]


def test_load_song_reads_back_exactly_the_new_drums(written):
    _, _, out = written
    song = load_song(out)
    drums = new_drums()
    assert (song.drums.channel == DRUM_CHANNEL).all()
    np.testing.assert_allclose(song.drums.start, drums.start)
    assert song.drums.pitch.tolist() == drums.pitch.tolist()
    assert song.drums.velocity.tolist() == drums.velocity.tolist()


def paired_notes(track: mido.MidiTrack) -> list[tuple[int, int, int]]:
    """(pitch, on tick, off tick) matched first in first out; fails on an unmatched event."""
    open_notes: dict[int, list[int]] = defaultdict(list)
    pairs = []
    for tick, msg in absolute(track):
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes[msg.note].append(tick)
        elif msg.type in ("note_off", "note_on"):
            assert open_notes[msg.note], f"note-off without note-on: {msg} at {tick}"
            pairs.append((msg.note, open_notes[msg.note].pop(0), tick))
    assert not any(open_notes.values()), f"notes never released: {dict(open_notes)}"
    return pairs


def test_every_drum_note_on_has_its_note_off(written):
    _, result, _ = written
    track = result.tracks[-1]
    assert all(m.channel == DRUM_CHANNEL for m in track if not m.is_meta)
    assert track[-1].type == "end_of_track" and track[0].type == "track_name"
    pairs = paired_notes(track)
    assert len(pairs) == len(new_drums())
    assert all(t1 > t0 for _, t0, t1 in pairs)
    assert sorted((t0, p) for p, t0, _ in pairs) == sorted(
        (round(s * TPB), int(p)) for s, p in zip(new_drums().start, new_drums().pitch))


def test_keep_drums_keeps_the_input_tracks_untouched(tmp_path):
    src = source_file()
    out = tmp_path / "kept.mid"
    write_accompaniment(to_bytes(src), new_drums(), out, keep_drums=True)
    result = mido.MidiFile(str(out))
    for before, after in zip(src.tracks, result.tracks):
        assert absolute(after) == absolute(before)
    song = load_song(out)
    assert len(song.drums) == 4 + len(new_drums())  # the input's drums and the new ones


def test_type_zero_input_gives_type_one_output(tmp_path):
    src = midi_file([mido.merge_tracks(source_file().tracks)], midi_type=0)
    out = tmp_path / "t0.mid"
    write_accompaniment(to_bytes(src), new_drums(), out)
    result = mido.MidiFile(str(out))
    assert result.type == 1 and len(result.tracks) == 2
    assert not any(is_drum_note(m) for m in result.tracks[0])
    before, after = load_song(to_bytes(src)), load_song(out)
    assert after.tempos == before.tempos and after.time_signatures == before.time_signatures
    np.testing.assert_array_equal(after.band.start, before.band.start)
    np.testing.assert_array_equal(after.band.pitch, before.band.pitch)
    assert len(after.drums) == len(new_drums())


def test_drum_track_puts_note_offs_first_at_equal_ticks():
    # two closed hats, the first released exactly where the second begins (0.6 beat = 57.6 ticks
    # rounds to 58); a zero-length hit still lasts one tick
    drums = Notes.from_lists([0.0, 0.5, 1.0], [0.5, 0.6, 1.0], [42, 42, 36], [90, 80, 100],
                             [DRUM_CHANNEL] * 3, [0] * 3)
    track = drum_track(drums, 96, name="test")
    events = [(t, m.type, m.note) for t, m in absolute(track) if not m.is_meta]
    assert events == [(0, "note_on", 42), (48, "note_off", 42), (48, "note_on", 42),
                      (58, "note_off", 42), (96, "note_on", 36), (97, "note_off", 36)]
    assert track.name == "test"
    assert all(m.time >= 0 for m in track)


def test_empty_drums_give_an_empty_drum_track(tmp_path):
    out = tmp_path / "silent.mid"
    write_accompaniment(to_bytes(source_file()), Notes.empty(), out)
    assert len(load_song(out).drums) == 0
    assert [m.type for m in mido.MidiFile(str(out)).tracks[-1]] == ["track_name", "end_of_track"]


def test_unwritable_destination_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot write"):
        write_accompaniment(to_bytes(source_file()), new_drums(), tmp_path)  # a folder


def test_destination_under_a_file_is_a_value_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError):
        write_accompaniment(to_bytes(source_file()), new_drums(), tmp_path / "file" / "out.mid")
