"""Read MIDI files (type 0 and 1) into a Song: tempo map, time signatures, band and drums."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np

from livedrum.grid import TimeSignature
from livedrum.song import Notes, Song

DRUM_CHANNEL = 9  # mido counts channels from 0: GM channel 10
MAX_BEATS = 20_000  # longer than any song; guards against absurd timing in broken files


def load_song(source: str | Path | bytes, name: str | None = None) -> Song:
    """Parse a MIDI file (a path or its bytes) into a Song.

    Raises ValueError with a one-line reason when the file cannot be used.
    """
    if isinstance(source, (bytes, bytearray)):
        label = name or "<bytes>"
        data = bytes(source)
    else:
        label = name or Path(source).name
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {label}: {exc.strerror or exc}") from exc
    try:
        mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as exc:  # mido raises many types for broken files
        raise ValueError(f"not a readable MIDI file: {_reason(exc)}") from exc
    if not mid.tracks:
        raise ValueError("the MIDI header says the file has no tracks")
    if mid.type not in (0, 1):
        raise ValueError(f"MIDI type {mid.type} is not supported (only 0 and 1)")
    if mid.ticks_per_beat == 0:
        raise ValueError("MIDI header gives 0 ticks per beat: no note has a time")
    if mid.ticks_per_beat < 0:
        raise ValueError("MIDI file uses SMPTE time, not beats")
    try:
        return _song_from_midi(mid, label)
    except (OverflowError, MemoryError) as exc:
        raise ValueError(f"implausible timing in the file ({type(exc).__name__})") from exc


def without_realtime(data: bytes) -> bytes:
    """The file's bytes without real-time messages (clock, start, stop ...: they belong on a cable,
    and a MIDI file holding them cannot be written back), their delta times kept; the same bytes
    when there are none. The bytes must be readable (`load_song` accepted them)."""
    mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    if not any(msg.is_realtime for track in mid.tracks for msg in track):
        return data
    for i, track in enumerate(mid.tracks):
        kept, carry = mido.MidiTrack(), 0
        for msg in track:
            if msg.is_realtime:
                carry += msg.time
            else:
                kept.append(msg.copy(time=msg.time + carry))
                carry = 0
        mid.tracks[i] = kept
    if len(mid.tracks) > 1:
        mid.type = 1  # a "type 0" file with more tracks reads, but mido writes it only as type 1
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _song_from_midi(mid: mido.MidiFile, name: str) -> Song:
    tpb = mid.ticks_per_beat
    tempos: dict[int, int] = {}
    sigs: dict[int, tuple[int, int]] = {}
    cols: list[list] = [[], [], [], [], [], []]  # band: start, end, pitch, vel, ch, program
    dcols: list[list] = [[], [], [], [], [], []]
    last_tick = 0
    for track in mid.tracks:
        tick = 0
        program = [0] * 16
        sounding: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append(
                    (tick, msg.velocity, program[msg.channel])
                )
            elif kind == "note_off" or (kind == "note_on" and msg.velocity == 0):
                starts = sounding.get((msg.channel, msg.note))
                if starts:
                    t0, vel, prog = starts.pop(0)
                    _add(dcols if msg.channel == DRUM_CHANNEL else cols,
                         t0, tick, msg.note, vel, msg.channel, prog)
            elif kind == "program_change":
                program[msg.channel] = msg.program
            elif kind == "set_tempo":
                tempos[tick] = msg.tempo
            elif kind == "time_signature":
                sigs[tick] = (msg.numerator, msg.denominator)
        for (ch, note), starts in sounding.items():  # notes never released end with the track
            for t0, vel, prog in starts:
                _add(dcols if ch == DRUM_CHANNEL else cols, t0, max(tick, t0 + 1), note, vel, ch, prog)
        last_tick = max(last_tick, tick)
    if last_tick / tpb > MAX_BEATS:
        raise ValueError(f"implausible length ({last_tick / tpb:.0f} beats)")
    band = _notes(cols, tpb)
    drums = _notes(dcols, tpb)
    drums.end = drums.start + 0.1  # drum notes are hits: their length carries nothing
    tempo_map = [(t / tpb, us) for t, us in sorted(tempos.items()) if us > 0] or [(0.0, 500000)]
    if tempo_map[0][0] > 0:  # the standard's 120 BPM until the first tempo event
        tempo_map.insert(0, (0.0, 500000))
    sig_list = [TimeSignature(t / tpb, n, d) for t, (n, d) in sorted(sigs.items()) if n > 0 and d > 0]
    if not sig_list or sig_list[0].beat > 0:
        sig_list.insert(0, TimeSignature(0.0, 4, 4))
    return Song(
        name=name, band=band, drums=drums, tempos=tempo_map, time_signatures=sig_list,
        ticks_per_beat=tpb, length_beats=last_tick / tpb,
    )


def _add(cols: list[list], t0: int, t1: int, note: int, vel: int, ch: int, prog: int) -> None:
    cols[0].append(t0)
    cols[1].append(max(t1, t0 + 1))
    cols[2].append(note)
    cols[3].append(vel)
    cols[4].append(ch)
    cols[5].append(prog)


def _notes(cols: list[list], tpb: int) -> Notes:
    start = np.asarray(cols[0], dtype=np.float64) / tpb
    end = np.asarray(cols[1], dtype=np.float64) / tpb
    return Notes.from_lists(start, end, cols[2], cols[3], cols[4], cols[5])
