"""Recording while playing: a valid MIDI file after every flush, incremental writes, and nothing lost to a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import mido
import pytest

from livedrum.live.recorder import Recorder, repair

REPO = Path(__file__).resolve().parents[2]
TPB = 480


def on(note: int, velocity: int = 100, channel: int = 9) -> mido.Message:
    return mido.Message("note_on", channel=channel, note=note, velocity=velocity)


def off(note: int, channel: int = 9) -> mido.Message:
    return mido.Message("note_off", channel=channel, note=note, velocity=0)


def load(path: Path) -> mido.MidiFile:
    """The file as mido reads it, checked to be a complete format-0 recording."""
    mid = mido.MidiFile(path)
    assert mid.type == 0 and mid.ticks_per_beat == TPB and len(mid.tracks) == 1
    assert mid.tracks[0][-1].type == "end_of_track"
    assert [m.type for m in mid.tracks[0]].count("end_of_track") == 1
    return mid


def events(path: Path) -> list[tuple[int, mido.Message | mido.MetaMessage]]:
    """Absolute tick and message of every event but the track name, the opening tempo and the end."""
    tick, out = 0, []
    for i, msg in enumerate(load(path).tracks[0]):
        tick += msg.time
        if i >= 2 and msg.type != "end_of_track":
            out.append((tick, msg.copy(time=0)))
    return out


def bar_events(bar: int) -> list[tuple[float, mido.Message]]:
    """A bar of kick/snare/hat quarter notes and a hi-hat pedal CC, as (beat, message)."""
    out = []
    for step in range(4):
        beat = bar * 4 + step
        note = 36 if step % 2 == 0 else 38
        out += [(beat, on(note)), (beat, on(42, 80)), (beat + 0.5, off(note)), (beat + 0.5, off(42))]
    out.append((bar * 4 + 2.25, mido.Message("control_change", channel=9, control=4, value=64)))
    return out


def as_ticks(beat_events: list[tuple[float, mido.Message]]) -> list[tuple[int, mido.Message]]:
    return [(round(b * TPB), m) for b, m in beat_events]


def same(a: list[tuple[int, object]], b: list[tuple[int, object]]) -> bool:
    """Same events at the same ticks, order within a tick ignored."""
    key = [(t, str(m)) for t, m in a]
    return sorted(key) == sorted((t, str(m)) for t, m in b)


def test_a_new_recording_is_a_valid_empty_file(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "take.mid", bpm=100, name="my take")
    track = load(rec.path).tracks[0]
    assert [m.type for m in track] == ["track_name", "set_tempo", "end_of_track"]
    assert track[0].name == "my take" and track[1].tempo == mido.bpm2tempo(100)
    assert rec.events_written == 0 and events(rec.path) == []
    rec.close()


def test_round_trip_of_notes_controllers_and_tempo_changes(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120) as rec:
        rec.add(0, mido.Message("program_change", channel=0, program=33))
        rec.add(0, on(40, 90, channel=0))
        rec.add(0.75, mido.Message("control_change", channel=0, control=64, value=127))
        rec.add(1, off(40, channel=0))
        rec.add(1, mido.Message("pitchwheel", channel=1, pitch=-2000))
        rec.add(1.5, mido.Message("aftertouch", channel=1, value=50))
        rec.tempo(2, 90)
        rec.add(2, on(36))
        rec.add(2 + 1 / 3, off(36))
        rec.add(3, mido.Message("note_on", channel=9, note=38, velocity=0))  # velocity 0 kept as is
    got = events(path)
    assert [(t, str(m)) for t, m in got] == [
        (0, str(mido.Message("program_change", channel=0, program=33))),
        (0, str(on(40, 90, channel=0))),
        (360, str(mido.Message("control_change", channel=0, control=64, value=127))),
        (480, str(off(40, channel=0))),
        (480, str(mido.Message("pitchwheel", channel=1, pitch=-2000))),
        (720, str(mido.Message("aftertouch", channel=1, value=50))),
        (960, str(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)))),
        (960, str(on(36))),
        (1120, str(off(36))),
        (1440, str(mido.Message("note_on", channel=9, note=38, velocity=0))),
    ]
    assert rec.events_written == 10


def test_the_file_is_valid_after_every_flush_and_holds_exactly_the_flushed_bars(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    expected: list[tuple[float, mido.Message]] = []
    for bar in range(6):
        for beat, msg in bar_events(bar):
            rec.add(beat, msg)
        rec.add(bar * 4 + 4, on(49))  # the next bar's crash: stays buffered
        rec.flush(upto_beat=bar * 4 + 4)
        expected += bar_events(bar) + ([(bar * 4, on(49))] if bar else [])
        assert same(events(path), as_ticks(expected))
        assert rec.events_written == len(expected)
    rec.close()
    assert same(events(path), as_ticks(expected + [(24, on(49))]))


def test_flush_upto_keeps_later_events_buffered(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    rec.add(3.99, on(36))
    rec.add(4.0, on(38))
    rec.add(9, on(42))
    rec.flush(upto_beat=4)
    assert [t for t, _ in events(path)] == [1915]
    rec.flush(upto_beat=-1)
    rec.flush(upto_beat=4)
    assert rec.events_written == 1
    rec.flush(upto_beat=8)
    assert [t for t, _ in events(path)] == [1915, 1920]
    rec.flush()
    assert [t for t, _ in events(path)] == [1915, 1920, 4320]
    rec.close()


def test_out_of_order_events_are_sorted(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120) as rec:
        for beat, note in [(2.0, 40), (0.5, 41), (3.0, 42), (0.25, 43), (1.0, 44)]:
            rec.add(beat, on(note))
    assert [(t, m.note) for t, m in events(path)] == [(120, 43), (240, 41), (480, 44), (960, 40), (1440, 42)]


def test_order_within_a_tick_tempo_then_offs_then_controllers_then_ons(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120) as rec:
        rec.add(0, on(36))
        rec.add(1, on(42))  # the drums stream's hat on the beat...
        rec.add(1, mido.Message("control_change", channel=9, control=4, value=10))
        rec.add(1, mido.Message("note_on", channel=9, note=36, velocity=0))  # ...then the band's note ends
        rec.add(1, on(36))  # and is struck again: a retrigger
        rec.tempo(1, 140)
        rec.add(1, off(40))
    got = [(t, m.type, getattr(m, "note", None), getattr(m, "velocity", None)) for t, m in events(path)]
    assert got == [
        (0, "note_on", 36, 100),
        (480, "set_tempo", None, None),
        (480, "note_on", 36, 0),
        (480, "note_off", 40, 0),
        (480, "control_change", None, None),
        (480, "note_on", 42, 100),
        (480, "note_on", 36, 100),
    ]


def test_a_note_off_on_its_own_note_on_tick_moves_one_tick_later(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120) as rec:
        rec.add(1.0, on(38))
        rec.add(1.0001, off(38))  # an e-drum pad's off, within a tick of its on
    assert [(t, m.type) for t, m in events(path)] == [(480, "note_on"), (481, "note_off")]


def test_late_and_negative_events_are_clamped(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    rec.add(-0.5, on(36))
    rec.add(1.5, on(38))
    rec.flush(upto_beat=2)
    rec.add(0.25, off(36))  # arrives after its time was flushed: written at the last flushed tick
    rec.add(1.75, on(42))  # before the flush point but after the last written event: keeps its time
    rec.add(float("nan"), on(49))
    rec.add(3, off(38))
    rec.close()
    assert [(t, m.type, m.note) for t, m in events(path)] == [
        (0, "note_on", 36),
        (720, "note_on", 38),
        (720, "note_off", 36),
        (720, "note_on", 49),
        (840, "note_on", 42),
        (1440, "note_off", 38),
    ]


def test_times_are_rounded_to_ticks(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120, ticks_per_beat=TPB) as rec:
        for i, beat in enumerate([0.0011, 1 / 3, 0.999, 2.0009]):
            rec.add(beat, on(36 + i))
    assert [t for t, _ in events(path)] == [1, 160, 480, 960]


def test_non_channel_messages_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120) as rec:
        rec.add(0, mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01]))
        rec.add(0, mido.Message("clock"))
        rec.add(0, mido.Message("start"))
        rec.add(0, mido.Message("reset"))  # 0xFF: in a file it would start a meta event
        rec.add(0, mido.Message("songpos", pos=8))
        rec.add(0, mido.MetaMessage("marker", text="verse"))  # type: ignore[arg-type]
        rec.add(0, on(36))
    assert [(t, m.type) for t, m in events(path)] == [(0, "note_on")]
    assert rec.events_written == 1


def test_a_gap_longer_than_one_delta_time_holds(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    far = 600_000  # beats: 288,000,000 ticks, more than the 0x0FFFFFFF one delta can hold
    with Recorder(path, bpm=120) as rec:
        rec.add(0, on(36))
        rec.add(far, off(36))
    notes = [(t, m.type) for t, m in events(path) if not m.is_meta]
    assert notes == [(0, "note_on"), (far * TPB, "note_off")]


def test_close_is_idempotent_and_the_recorder_refuses_more(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    rec.add(0, on(36))
    rec.close()
    before = path.read_bytes()
    rec.close()
    rec.flush()
    with pytest.raises(ValueError, match="closed"):
        rec.add(1, on(38))
    with pytest.raises(ValueError, match="closed"):
        rec.add(1, mido.Message("clock"))
    with pytest.raises(ValueError, match="closed"):
        rec.tempo(1, 100)
    assert path.read_bytes() == before and rec.events_written == 1


def test_the_context_manager_closes_on_error(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with pytest.raises(RuntimeError), Recorder(path, bpm=120) as rec:
        rec.add(0, on(36))
        raise RuntimeError("the daemon died")
    assert [t for t, _ in events(path)] == [0]


def test_an_unwritable_path_is_an_oserror_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "take.mid"
    with pytest.raises(OSError, match="no such folder"):
        Recorder(missing, bpm=120)
    with pytest.raises(OSError, match="cannot create the MIDI recording"):
        Recorder(tmp_path, bpm=120)  # a folder


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bpm": 0},
        {"bpm": -90},
        {"bpm": float("nan")},
        {"bpm": 1.0},
        {"bpm": 120, "ticks_per_beat": 0},
        {"bpm": 120, "ticks_per_beat": 40000},
    ],
)
def test_bad_settings_are_refused_before_the_file_is_touched(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Recorder(tmp_path / "take.mid", **kwargs)
    assert not (tmp_path / "take.mid").exists()


def test_a_bad_tempo_change_is_refused(tmp_path: Path) -> None:
    with Recorder(tmp_path / "take.mid", bpm=120) as rec, pytest.raises(ValueError):
        rec.tempo(4, 0)


def test_a_flush_appends_only_and_never_rewrites_earlier_bytes(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    for bar in range(50):
        for beat, msg in bar_events(bar):
            rec.add(beat, msg)
    rec.flush()
    before = path.read_bytes()
    # Mark a velocity byte in the middle of the flushed events: a rewrite of the file would undo it.
    velocity_at = before.index(bytes([0x99, 42, 80]), len(before) // 2) + 2
    with open(path, "r+b") as f:
        f.seek(velocity_at)
        f.write(bytes([81]))
    marked = path.read_bytes()

    rec.add(200, on(36))  # 240 ticks after the last off (beat 199.5): a 2-byte delta
    rec.add(200.25, off(36))  # 120 ticks, a 1-byte delta
    rec.flush()
    after = path.read_bytes()
    assert len(after) - len(before) == (2 + 3) + (1 + 3)
    assert after[velocity_at] == 81
    assert after[:18] == marked[:18]  # the header
    assert after[22 : len(marked) - 4] == marked[22:-4]  # every event before the old End of Track
    assert int.from_bytes(after[18:22], "big") == len(after) - 22
    rec.close()
    assert load(path)


def test_a_failed_flush_keeps_its_events_for_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    rec.add(0, on(36))
    rec.flush()

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    rec.add(1, on(38))
    rec.add(2, on(42))
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", broken_fsync)
        with pytest.raises(OSError, match="cannot write the MIDI recording"):
            rec.flush()
    assert rec.events_written == 1
    rec.add(1.5, on(40))  # arrived while the failed flush held beats 1..2: clamped behind them
    rec.close()
    assert [(t, m.note) for t, m in events(path)] == [(0, 36), (480, 38), (960, 42), (960, 40)]


def test_adds_from_two_threads_while_flushing(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)

    def stream(channel: int) -> None:
        for i in range(2000):
            rec.add(i / 8, mido.Message("control_change", channel=channel, control=1, value=i % 128))

    threads = [threading.Thread(target=stream, args=(c,)) for c in (0, 9)]
    for t in threads:
        t.start()
    for bar in range(60):
        rec.flush(upto_beat=bar * 4)
    for t in threads:
        t.join()
    rec.close()
    got = events(path)
    assert len(got) == 4000 and rec.events_written == 4000
    for channel in (0, 9):  # each stream in its own order, late ones clamped behind what was flushed
        assert [m.value for _, m in got if m.channel == channel] == [i % 128 for i in range(2000)]


CHILD = textwrap.dedent(
    """
    import sys, time
    import mido
    from livedrum.live.recorder import Recorder
    from tests.live.test_recorder import bar_events

    rec = Recorder(sys.argv[1], bpm=120)
    for bar in range(1000):
        for beat, msg in bar_events(bar):
            rec.add(beat, msg)
        rec.add(bar * 4 + 4.5, mido.Message("note_on", channel=9, note=49, velocity=127))  # next bar, unflushed
        rec.flush(upto_beat=bar * 4 + 4)
        print(bar, flush=True)
        if bar == int(sys.argv[2]):
            time.sleep(60)  # playing on, mid-way through the next bar, when the kill comes
    """
)


def test_a_kill_9_loses_only_the_unflushed_bar(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    flushed_bars = 5
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(flushed_bars - 1)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        for bar in range(flushed_bars):
            line = child.stdout.readline()
            assert line.strip() == str(bar), child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    expected = [e for bar in range(flushed_bars) for e in bar_events(bar)]
    expected += [(bar * 4 + 0.5, on(49, 127)) for bar in range(1, flushed_bars)]
    assert same(events(path), as_ticks(expected))


def test_repair_mends_a_file_killed_between_the_two_writes_of_a_flush(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    rec = Recorder(path, bpm=120)
    for beat, msg in bar_events(0):
        rec.add(beat, msg)
    rec.flush()
    stale_length = path.read_bytes()[18:22]
    for beat, msg in bar_events(1):
        rec.add(beat, msg)
    rec.flush()
    rec.close()
    with open(path, "r+b") as f:  # the events and new End of Track are written, the length not yet
        f.seek(18)
        f.write(stale_length)
    with pytest.raises(EOFError):
        mido.MidiFile(path)
    assert repair(path) == 2 + len(bar_events(0)) + len(bar_events(1))
    assert same(events(path), as_ticks(bar_events(0) + bar_events(1)))


def test_repair_drops_a_torn_tail_and_keeps_valid_files_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "take.mid"
    with Recorder(path, bpm=120) as rec:
        for beat, msg in bar_events(0):
            rec.add(beat, msg)
    whole = path.read_bytes()
    assert repair(path) == 2 + len(bar_events(0)) and path.read_bytes() == whole
    path.write_bytes(whole[:-6])  # the End of Track and the last event's final bytes never reached the disk
    assert repair(path) == 2 + len(bar_events(0)) - 1
    last = (round(3.5 * TPB), str(off(42)))  # the last event of the bar in time
    assert same(events(path), [(t, m) for t, m in as_ticks(bar_events(0)) if (t, str(m)) != last])
    (tmp_path / "other.mid").write_bytes(b"RIFF....")
    with pytest.raises(ValueError):
        repair(tmp_path / "other.mid")
