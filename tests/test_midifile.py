"""Reading MIDI files: tempo map, meters, band and drums, odd note endings, broken files."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import mido
import numpy as np
import pytest

from livedrum.features import song_arrays
from livedrum.grid import TimeSignature
from livedrum.midifile import DRUM_CHANNEL, MAX_BEATS, load_song
from tests.midi_builders import (
    TPB,
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

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LIVEDRUM_DATA", REPO.parent / "shared" / "data"))


def mixed_meter_file() -> mido.MidiFile:
    """Type 1: 120 bpm in 3/4, 60 bpm from beat 3, 180 bpm and 4/4 from beat 6; bass, keys, drums."""
    meta = build_track([
        tempo(0, 120), time_signature(0, 3, 4),
        tempo(3 * TPB, 60),
        tempo(6 * TPB, 180), time_signature(6 * TPB, 4, 4),
    ], end_tick=10 * TPB)
    bass = build_track([
        program(0, 33, channel=0),
        *note(0, TPB, 40, 90, channel=0),
        program(TPB, 34, channel=0),
        *note(2 * TPB, 3 * TPB + TPB // 2, 43, 80, channel=0),
    ])
    keys = build_track([
        on(TPB // 2, 64, 70, channel=1),
        off(TPB, 64, channel=1, zero_velocity_on=True),  # note_on velocity 0 ends the note
        on(4 * TPB, 67, 60, channel=1),  # never released: ends with the track
    ], end_tick=8 * TPB)
    drums = build_track([
        *note(0, 10, 36, 110, channel=DRUM_CHANNEL),
        on(TPB, 38, 100, channel=DRUM_CHANNEL),
        off(TPB + 30, 38, channel=DRUM_CHANNEL, zero_velocity_on=True),
        on(TPB + TPB // 2, 42, 64, channel=DRUM_CHANNEL),  # hat never released
    ], end_tick=9 * TPB)
    return midi_file([meta, bass, keys, drums])


@pytest.fixture
def mixed(tmp_path: Path):
    path = tmp_path / "mixed.mid"
    mixed_meter_file().save(str(path))
    return load_song(path)


def test_tempo_map_in_beats(mixed):
    assert mixed.tempos == [(0.0, 500000), (3.0, 1000000), (6.0, 333333)]
    assert mixed.ticks_per_beat == TPB
    assert mixed.name == "mixed.mid"
    assert mixed.bpm_at(0.0) == pytest.approx(120.0)
    assert mixed.bpm_at(4.5) == pytest.approx(60.0)
    assert mixed.bpm_at(7.0) == pytest.approx(180.0, rel=1e-5)


def test_seconds_at_by_hand(mixed):
    beats = np.array([0.0, 1.0, 3.0, 4.0, 6.0, 9.0])
    # 3 beats at 0.5 s, then 3 beats at 1 s, then 1/3 s a beat
    expected = np.array([0.0, 0.5, 1.5, 2.5, 4.5, 4.5 + 3 * 0.333333])
    np.testing.assert_allclose(mixed.seconds_at(beats), expected, atol=1e-9)
    assert mixed.seconds_at(3.5) == pytest.approx(2.0)


def test_seconds_at_agrees_with_mido_playback_time():
    mid = mixed_meter_file()
    song = load_song(to_bytes(mid))
    now, onsets = 0.0, []
    for msg in mid:  # mido yields messages with their delta in seconds under the tempo map
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append(now)
    starts = np.sort(np.concatenate([song.band.start, song.drums.start]))
    np.testing.assert_allclose(song.seconds_at(starts), sorted(onsets), atol=1e-6)


def test_tempo_before_the_first_set_tempo_is_the_midi_default():
    mid = midi_file([build_track([tempo(4 * TPB, 60), *note(0, 10, 60), *note(6 * TPB, 6 * TPB + 10, 62)])],
                    midi_type=0)
    song = load_song(to_bytes(mid))
    now, onsets = 0.0, []
    for msg in mid:
        now += msg.time
        if msg.type == "note_on":
            onsets.append(now)
    assert onsets == pytest.approx([0.0, 4.0])  # 4 beats at 120 bpm, 2 beats at 60
    assert song.seconds_at(6.0) == pytest.approx(4.0)


def test_time_signatures(mixed):
    assert mixed.time_signatures == [TimeSignature(0.0, 3, 4), TimeSignature(6.0, 4, 4)]
    arrays = song_arrays(mixed)
    assert arrays.n_beats == 10
    assert arrays.bar.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert arrays.beat_in_bar.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 3]


def test_band_and_drums_are_separated_by_channel(mixed):
    band, drums = mixed.band, mixed.drums
    assert (band.channel != DRUM_CHANNEL).all()
    assert (drums.channel == DRUM_CHANNEL).all()
    assert band.pitch.tolist() == [40, 64, 43, 67]  # sorted by start
    assert drums.pitch.tolist() == [36, 38, 42]
    np.testing.assert_allclose(drums.start, [0.0, 1.0, 1.5])
    np.testing.assert_allclose(drums.end, drums.start + 0.1)  # hits, length carries nothing
    assert drums.velocity.tolist() == [110, 100, 64]


def test_note_ends_programs_and_velocities(mixed):
    band = mixed.band
    np.testing.assert_allclose(band.start, [0.0, 0.5, 2.0, 4.0])
    # note_off, note_on velocity 0, note_off, and a note never released (ends with its track)
    np.testing.assert_allclose(band.end, [1.0, 1.0, 3.5, 8.0])
    assert band.velocity.tolist() == [90, 70, 80, 60]
    assert band.program.tolist() == [33, 0, 34, 0]  # the program sounding when the note began
    assert band.channel.tolist() == [0, 1, 0, 1]
    assert mixed.length_beats == 10.0


def test_type_zero_file_gives_the_same_song_as_type_one():
    type1 = mixed_meter_file()
    merged = mido.merge_tracks(type1.tracks)
    type0 = midi_file([merged], midi_type=0)
    a, b = load_song(to_bytes(type1)), load_song(to_bytes(type0))
    assert type0.type == 0 and len(type0.tracks) == 1
    assert a.tempos == b.tempos and a.time_signatures == b.time_signatures
    for attr in ("start", "end", "pitch", "velocity", "channel", "program"):
        np.testing.assert_array_equal(getattr(a.drums, attr), getattr(b.drums, attr))
        if attr != "end":
            np.testing.assert_array_equal(getattr(a.band, attr), getattr(b.band, attr))
    # a note never released ends with its own track: beat 8 in the keys track, 10 in the merged one
    np.testing.assert_allclose(a.band.end, [1.0, 1.0, 3.5, 8.0])
    np.testing.assert_allclose(b.band.end, [1.0, 1.0, 3.5, 10.0])


def test_overlapping_notes_of_one_pitch_end_first_in_first_out():
    track = build_track([on(0, 60, 100), on(TPB, 60, 50), off(2 * TPB, 60), off(3 * TPB, 60)])
    song = load_song(to_bytes(midi_file([track], midi_type=0)))
    np.testing.assert_allclose(song.band.start, [0.0, 1.0])
    np.testing.assert_allclose(song.band.end, [2.0, 3.0])
    assert song.band.velocity.tolist() == [100, 50]


def test_note_off_without_note_on_is_ignored_and_zero_length_notes_last_a_tick():
    track = build_track([off(0, 50), on(TPB, 61, 90), off(TPB, 61)])
    song = load_song(to_bytes(midi_file([track], midi_type=0)))
    assert song.band.pitch.tolist() == [61]
    assert song.band.end[0] == pytest.approx(1.0 + 1 / TPB)


def test_file_without_tempo_or_meter_gets_120_bpm_four_four():
    song = load_song(to_bytes(midi_file([build_track(note(0, TPB, 60))], midi_type=0)))
    assert song.tempos == [(0.0, 500000)]
    assert song.time_signatures == [TimeSignature(0.0, 4, 4)]
    assert song.seconds_at(2.0) == pytest.approx(1.0)


def test_tempo_events_on_any_track_make_one_map():
    t0 = build_track([tempo(0, 100)])
    t1 = build_track([tempo(2 * TPB, 150), *note(0, TPB, 60)])
    song = load_song(to_bytes(midi_file([t0, t1])))
    assert song.tempos == [(0.0, mido.bpm2tempo(100)), (2.0, mido.bpm2tempo(150))]


def test_other_ticks_per_beat():
    track = build_track([*note(96, 192, 60), *note(0, 24, 36, channel=DRUM_CHANNEL)])
    song = load_song(to_bytes(midi_file([track], midi_type=0, tpb=96)))
    assert song.ticks_per_beat == 96
    np.testing.assert_allclose(song.band.start, [1.0])
    np.testing.assert_allclose(song.band.end, [2.0])
    np.testing.assert_allclose(song.drums.start, [0.0])


def test_bytes_and_path_give_the_same_song(tmp_path):
    data = to_bytes(mixed_meter_file())
    (tmp_path / "x.mid").write_bytes(data)
    a, b = load_song(data, name="x.mid"), load_song(tmp_path / "x.mid")
    assert a.name == b.name == "x.mid"
    assert load_song(data).name == "<bytes>"
    np.testing.assert_array_equal(a.band.start, b.band.start)


# ---- broken files: always ValueError, one line ------------------------------------------------

def _header(midi_type: int = 0, ntracks: int = 1, division: bytes = struct.pack(">H", TPB)) -> bytes:
    return b"MThd" + struct.pack(">LHH", 6, midi_type, ntracks) + division


def _track_chunk(body: bytes) -> bytes:
    return b"MTrk" + struct.pack(">L", len(body)) + body


def _broken_files() -> dict[str, bytes]:
    good = to_bytes(mixed_meter_file())
    rnd = random.Random(7)
    note_on = b"\x00\x90\x3c\x40"
    eot = b"\x00\xff\x2f\x00"
    return {
        "empty": b"",
        "truncated_header": good[:10],
        "truncated_mid_track": good[: len(good) // 2],
        "truncated_last_byte": good[:-1],
        "missing_second_track": _header(1, 2) + _track_chunk(eot),
        "bad_header": b"RIFF" + good[4:],
        "bad_track_header": _header() + b"MTrx" + struct.pack(">L", 4) + eot,
        "random_bytes": bytes(rnd.randrange(256) for _ in range(2000)),
        "random_after_header": _header() + _track_chunk(bytes(rnd.randrange(256) for _ in range(500))),
        "text": b"this is not a MIDI file at all\n",
        "smpte_division": _header(division=bytes([0xE7, 0x28])) + _track_chunk(note_on + eot),
        "type_2": _header(2, 1) + _track_chunk(note_on + eot),
        "huge_delta_time": _header() + _track_chunk(note_on + b"\x8f\xff\xff\x7f\xff\x2f\x00"),
    }


@pytest.mark.parametrize("kind", sorted(_broken_files()))
def test_broken_file_raises_one_line_value_error(kind, tmp_path):
    data = _broken_files()[kind]
    for source in (data, tmp_path / f"{kind}.mid"):
        if isinstance(source, Path):
            source.write_bytes(data)
        with pytest.raises(ValueError) as info:
            load_song(source)
        assert type(info.value) is ValueError  # not a subclass in disguise (e.g. UnicodeError)
        text = str(info.value)
        assert text and "\n" not in text


def test_broken_file_messages_say_what_is_wrong():
    files = _broken_files()
    with pytest.raises(ValueError, match="SMPTE"):
        load_song(files["smpte_division"])
    with pytest.raises(ValueError, match="MIDI type 2 is not supported"):
        load_song(files["type_2"])
    with pytest.raises(ValueError, match=r"implausible length \(\d+ beats\)"):
        load_song(files["huge_delta_time"])
    with pytest.raises(ValueError, match="not a readable MIDI file: EOFError"):
        load_song(files["empty"])
    with pytest.raises(ValueError, match="not a readable MIDI file: OSError: MThd not found"):
        load_song(files["bad_header"])


def test_length_limit_is_in_beats():
    ok = build_track(note(0, MAX_BEATS * TPB, 60))
    assert load_song(to_bytes(midi_file([ok], midi_type=0))).length_beats == MAX_BEATS
    too_long = build_track(note(0, MAX_BEATS * TPB + TPB, 60))
    with pytest.raises(ValueError, match="implausible length"):
        load_song(to_bytes(midi_file([too_long], midi_type=0)))


def test_absurd_variable_length_delta_is_a_value_error():
    body = b"\xff" * 150 + b"\x00" + b"\x90\x3c\x40" + b"\x00\xff\x2f\x00"
    with pytest.raises(ValueError):
        load_song(_header() + _track_chunk(body))


def test_missing_file_and_folder_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read nothing.mid"):
        load_song(tmp_path / "nothing.mid")
    with pytest.raises(ValueError, match="cannot read"):
        load_song(tmp_path)


# ---- one real file from the shared corpus ------------------------------------------------------

def test_real_freedoom_song_loads_with_band_and_drums():
    path = DATA / "midi" / "freedoom" / "d_e1m1.mid"
    if not path.is_file():
        pytest.skip("shared data not available")
    song = load_song(path)
    assert len(song.band) > 100 and len(song.drums) > 100
    assert (song.drums.channel == DRUM_CHANNEL).all() and (song.band.channel != DRUM_CHANNEL).all()
    assert (song.band.end > song.band.start).all()
    assert song.band.start.min() >= 0 and song.band.end.max() <= song.length_beats + 1e-9
    secs = song.seconds_at(np.linspace(0, song.length_beats, 50))
    assert (np.diff(secs) > 0).all()
    reference = mido.MidiFile(str(path)).length
    assert song.seconds_at(song.length_beats) == pytest.approx(reference, rel=1e-3)
