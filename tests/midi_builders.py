"""Small helpers for building real MIDI files with mido in tests, timed in absolute ticks."""

from __future__ import annotations

import io

import mido

TPB = 480

Event = tuple[int, mido.Message | mido.MetaMessage]


def on(tick: int, pitch: int, velocity: int = 100, channel: int = 0) -> Event:
    return tick, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)


def off(tick: int, pitch: int, channel: int = 0, zero_velocity_on: bool = False) -> Event:
    """A note-off, or the common note_on with velocity 0 that means the same."""
    kind = "note_on" if zero_velocity_on else "note_off"
    return tick, mido.Message(kind, note=pitch, velocity=0, channel=channel)


def note(t0: int, t1: int, pitch: int, velocity: int = 100, channel: int = 0) -> list[Event]:
    return [on(t0, pitch, velocity, channel), off(t1, pitch, channel)]


def tempo(tick: int, bpm: float) -> Event:
    return tick, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))


def time_signature(tick: int, numerator: int, denominator: int) -> Event:
    return tick, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)


def program(tick: int, prog: int, channel: int = 0) -> Event:
    return tick, mido.Message("program_change", program=prog, channel=channel)


def build_track(events: list[Event], end_tick: int | None = None, name: str | None = None) -> mido.MidiTrack:
    """Events (absolute ticks, stable order within a tick) as a track with delta times."""
    track = mido.MidiTrack()
    if name is not None:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    last = 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track.append(msg.copy(time=tick - last))
        last = tick
    end = last if end_tick is None else max(end_tick, last)
    track.append(mido.MetaMessage("end_of_track", time=end - last))
    return track


def midi_file(tracks: list[mido.MidiTrack], midi_type: int = 1, tpb: int = TPB) -> mido.MidiFile:
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=tpb)
    mid.tracks.extend(tracks)
    return mid


def to_bytes(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message | mido.MetaMessage]]:
    """(absolute tick, message with time 0) for every message of a track."""
    out, tick = [], 0
    for msg in track:
        tick += msg.time
        out.append((tick, msg.copy(time=0)))
    return out
