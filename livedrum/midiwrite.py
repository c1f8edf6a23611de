"""Write the accompaniment: the input's own tracks, tempo map and meter, plus a drum track."""

from __future__ import annotations

import io
from pathlib import Path

import mido

from livedrum.kits import KitMap
from livedrum.midifile import DRUM_CHANNEL
from livedrum.song import Notes

_NOTE_TYPES = {"note_on", "note_off", "polytouch"}


def _strip_drums(track: mido.MidiTrack) -> mido.MidiTrack:
    """The track without its channel-10 notes, other events at their original ticks."""
    out = mido.MidiTrack()
    tick = last = 0
    for msg in track:
        tick += msg.time
        if msg.type in _NOTE_TYPES and msg.channel == DRUM_CHANNEL:
            continue
        out.append(msg.copy(time=tick - last))
        last = tick
    return out


def drum_track(drums: Notes, ticks_per_beat: int, name: str = "livedrum drums",
               kit: KitMap | None = None) -> mido.MidiTrack:
    """Drum notes (beats) as a track on channel 10, note-offs included, sorted by time. With a kit
    map, each General MIDI hit becomes the plugin's note, channel and velocity (and hi-hat controller),
    as the live drummer sends them."""
    events: list[tuple[int, int, int, mido.Message]] = []
    for k, (start, end, pitch, vel) in enumerate(zip(drums.start, drums.end, drums.pitch, drums.velocity)):
        t0 = int(round(start * ticks_per_beat))
        t1 = max(t0 + 1, int(round(end * ticks_per_beat)))
        if kit is None:
            ons = [mido.Message("note_on", channel=DRUM_CHANNEL, note=int(pitch), velocity=int(vel))]
            offs = [mido.Message("note_off", channel=DRUM_CHANNEL, note=int(pitch), velocity=0)]
        else:
            ons, offs = kit.map(int(pitch), int(vel)), kit.note_off(int(pitch))
        events.extend((t0, 1, k, m) for m in ons)  # a hit's controller before its note
        events.extend((t1, 0, k, m) for m in offs)
    events.sort(key=lambda e: (e[0], e[1], e[2]))  # at equal ticks, note-offs first
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    last = 0
    for tick, _, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_accompaniment(source: bytes, drums: Notes, out: Path, keep_drums: bool = False,
                        kit: KitMap | None = None) -> None:
    """The input MIDI file (its bytes) with the generated drum track added (through `kit`, if given)."""
    mid = mido.MidiFile(file=io.BytesIO(source), clip=True)
    tracks = list(mid.tracks) if keep_drums else [_strip_drums(t) for t in mid.tracks]
    result = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
    result.tracks.extend(tracks)
    result.tracks.append(drum_track(drums, mid.ticks_per_beat, kit=kit))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        result.save(str(out))
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from exc
