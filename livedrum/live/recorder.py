"""Record the band and the drums to a Standard MIDI File while playing (the daemon's `--record FILE.mid`).

The file on disk is a complete, valid format-0 MIDI file after every flush, so a crash or `kill -9`
loses only what was still buffered (the daemon flushes bar by bar). A flush appends: it writes the
new events over the old End of Track, a new End of Track after them, rewrites the 4-byte track
length and fsyncs; earlier bytes are never rewritten, so its cost follows the new events only.

The two writes of a flush are not atomic: a kill in the microseconds between them leaves a stale
track length, and a power loss can leave a torn tail. `repair` makes such a file valid again.

Events come from two streams (band in, drums out) slightly out of order; they are buffered, sorted
at flush, and an event later than the part already flushed is written at the last flushed tick.
`add` takes the buffer lock only, never the disk, so it can be called from the rtmidi callback while
another thread flushes.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import struct
import threading
from pathlib import Path
from typing import BinaryIO

import mido

_LENGTH_POS = 18  # the MTrk length field: after MThd, its length, 6 header bytes and "MTrk"
_TRACK_START = 22  # the first event of the track
_END_OF_TRACK = b"\x00\xff\x2f\x00"
_MAX_DELTA = 0x0FFFFFFF  # the largest delta time a (4-byte) variable-length quantity holds
_MAX_TICK = 1 << 40  # absurd times are clamped here, so a bogus beat cannot stall a flush
_GAP_FILLER = b"\xff\x01\x00"  # an empty text event that carries a delta too long for one VLQ

# Order within one tick: the tempo first; note-offs before note-ons, so a retriggered note ends
# before it starts again; controllers and programs before the notes they are meant to affect.
_RANK_TEMPO, _RANK_OFF, _RANK_OTHER, _RANK_ON = range(4)

_Event = tuple[int, int, int, bytes]  # tick, rank, arrival order, encoded event without delta


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity (7 bits per byte, high bit set on all but the last)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _tempo_event(bpm: float) -> bytes:
    """A set_tempo meta event (no delta), or ValueError for a tempo a MIDI file cannot hold."""
    try:
        bpm = float(bpm)
    except (TypeError, ValueError):
        raise ValueError(f"tempo must be a number of BPM, got {bpm!r}") from None
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"tempo must be a positive number of BPM, got {bpm:g}")
    microseconds = round(60_000_000 / bpm)
    if not 1 <= microseconds <= 0xFFFFFF:
        raise ValueError(f"a MIDI file cannot store a tempo of {bpm:g} BPM")
    return b"\xff\x51\x03" + microseconds.to_bytes(3, "big")


def _io_error(action: str, path: Path, error: OSError) -> OSError:
    """The same kind of OSError, saying which recording and what was being done."""
    if error.errno is None:
        return OSError(f"{action} {path}: {error}")
    return OSError(error.errno, f"{action} {path}: {error.strerror}")


def _write_at(file: BinaryIO, pos: int, data: bytes) -> None:
    """Write all of data at pos (an unbuffered file may write less than asked)."""
    file.seek(pos)
    view = memoryview(data)
    while view:
        n = file.write(view)
        if not n:
            raise OSError("the file accepted no more bytes")
        view = view[n:]


class Recorder:
    """An incremental format-0 MIDI file: `add` events at beats, `flush` bar by bar, `close` at the end."""

    def __init__(self, path: str | Path, bpm: float, ticks_per_beat: int = 480, name: str = "livedrum") -> None:
        if not 1 <= ticks_per_beat <= 0x7FFF:
            raise ValueError(f"ticks_per_beat must be within 1..32767, got {ticks_per_beat}")
        tempo = _tempo_event(bpm)
        self._path = Path(path)
        self._tpb = ticks_per_beat
        self._lock = threading.Lock()  # the buffer and the clamp floor: held briefly, never across I/O
        self._io_lock = threading.Lock()  # one flush (or close) at a time
        self._buffer: list[_Event] = []
        self._arrival = itertools.count()
        self._floor = 0  # no event may land before this tick: it is flushed, or being flushed
        self._disk_tick = 0  # tick of the last event on disk, where the next delta counts from
        self._last_on: dict[tuple[int, int], int] = {}  # (channel, note) -> tick of its latest note-on
        self._written = 0
        self._closed = False
        self._torn_tail = False  # a failed flush may have left bytes past the End of Track

        title = name.encode("latin-1", errors="replace")
        track = b"\x00\xff\x03" + _vlq(len(title)) + title + b"\x00" + tempo
        header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
        chunk = b"MTrk" + struct.pack(">I", len(track) + len(_END_OF_TRACK)) + track + _END_OF_TRACK
        self._eot = _TRACK_START + len(track)  # where the End of Track event starts
        try:
            self._file: BinaryIO = open(self._path, "w+b", buffering=0)  # open until close()
        except OSError as e:
            raise _io_error("cannot create the MIDI recording", self._path, e) from e
        try:
            _write_at(self._file, 0, header + chunk)
            os.fsync(self._file.fileno())
        except OSError as e:
            self._file.close()
            raise _io_error("cannot write the MIDI recording", self._path, e) from e

    @property
    def path(self) -> Path:
        return self._path

    @property
    def events_written(self) -> int:
        """Events from add() and tempo() now on disk (the opening track name and tempo not counted)."""
        return self._written

    def _tick(self, beat: float) -> int:
        """Beats to ticks, rounded; negative and NaN to 0, huge values clamped."""
        ticks = float(beat) * self._tpb
        if math.isnan(ticks):
            return 0
        return round(min(max(ticks, 0.0), float(_MAX_TICK)))

    def tempo(self, beat: float, bpm: float) -> None:
        """A tempo change at that beat."""
        event = _tempo_event(bpm)
        with self._lock:
            if self._closed:
                raise ValueError("the recorder is closed")
            tick = max(self._tick(beat), self._floor)
            self._buffer.append((tick, _RANK_TEMPO, next(self._arrival), event))

    def add(self, beat: float, message: mido.Message) -> None:
        """A channel message at that beat; sysex, system and meta messages have no place here and are skipped."""
        data = bytes(message.bytes()) if isinstance(message, mido.Message) else b""
        kind = data[0] & 0xF0 if data else 0xF0
        if kind == 0x80 or (kind == 0x90 and data[2] == 0):
            rank = _RANK_OFF
        elif kind == 0x90:
            rank = _RANK_ON
        else:
            rank = _RANK_OTHER
        with self._lock:
            if self._closed:
                raise ValueError("the recorder is closed")
            if kind == 0xF0:
                return
            tick = max(self._tick(beat), self._floor)
            if kind in (0x80, 0x90):
                key = (data[0] & 0x0F, data[1])
                if rank != _RANK_OFF:
                    self._last_on[key] = tick
                elif self._last_on.get(key) == tick:
                    tick += 1  # a note-off on its own note-on's tick would sort first and leave the note hanging
            self._buffer.append((tick, rank, next(self._arrival), data))

    def flush(self, upto_beat: float | None = None) -> None:
        """Write the events strictly before upto_beat (all buffered ones for None); a no-op once closed."""
        with self._io_lock:
            if self._closed:
                return
            self._flush(upto_beat)

    def _flush(self, upto_beat: float | None) -> None:
        with self._lock:
            self._buffer.sort()
            cut = len(self._buffer) if upto_beat is None else bisect.bisect_left(self._buffer, (self._tick(upto_beat),))
            ready = self._buffer[:cut]
            del self._buffer[:cut]
            if not ready:
                return
            self._floor = max(self._floor, ready[-1][0])
        out = bytearray()
        last = self._disk_tick
        for tick, _, _, data in ready:
            delta = max(tick - last, 0)
            while delta > _MAX_DELTA:
                out += _vlq(_MAX_DELTA) + _GAP_FILLER
                delta -= _MAX_DELTA
            out += _vlq(delta) + data
            last = max(last, tick)
        end = self._eot + len(out)
        try:
            _write_at(self._file, self._eot, bytes(out) + _END_OF_TRACK)
            _write_at(self._file, _LENGTH_POS, struct.pack(">I", end + len(_END_OF_TRACK) - _TRACK_START))
            if self._torn_tail:
                self._file.truncate(end + len(_END_OF_TRACK))
            os.fsync(self._file.fileno())
        except OSError as e:
            self._torn_tail = not self._restore()  # a full disk leaves the file as it was: valid
            with self._lock:
                self._buffer.extend(ready)  # kept for the next flush, which writes from the same place
            raise _io_error("cannot write the MIDI recording", self._path, e) from e
        self._torn_tail = False
        self._eot = end
        self._disk_tick = last
        self._written += len(ready)

    def _restore(self) -> bool:
        """Put back the last valid file after a failed append (cut the partial tail, end of track
        and length as before); True if that worked."""
        try:
            self._file.truncate(self._eot + len(_END_OF_TRACK))
            _write_at(self._file, self._eot, _END_OF_TRACK)
            _write_at(self._file, _LENGTH_POS, struct.pack(">I", self._eot + len(_END_OF_TRACK) - _TRACK_START))
            self._file.flush()
            return True
        except OSError:
            return False

    def close(self) -> None:
        """Flush everything and close the file; later calls do nothing, later add() raises ValueError."""
        with self._io_lock:
            with self._lock:
                if self._closed:
                    return
                self._closed = True
            try:
                self._flush(None)
            finally:
                self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _next_event(data: bytes, pos: int) -> tuple[int, bool] | None:
    """Where the track event at pos ends and whether it is the End of Track; None if cut off or garbled."""

    def vlq(at: int) -> tuple[int, int] | None:
        value = 0
        for i in range(at, min(at + 4, len(data))):
            value = (value << 7) | (data[i] & 0x7F)
            if data[i] < 0x80:
                return value, i + 1
        return None

    delta = vlq(pos)
    if delta is None or delta[1] >= len(data):
        return None
    at = delta[1]
    status = data[at]
    if status == 0xFF:
        if at + 1 >= len(data):
            return None
        length = vlq(at + 2)
        if length is None:
            return None
        end = length[1] + length[0]
        return (end, data[at + 1] == 0x2F) if end <= len(data) else None
    if status in (0xF0, 0xF7):
        length = vlq(at + 1)
        if length is None:
            return None
        end = length[1] + length[0]
        return (end, False) if end <= len(data) else None
    if not 0x80 <= status < 0xF0:
        return None  # running status (never written here) or garbage
    end = at + (2 if status & 0xF0 in (0xC0, 0xD0) else 3)
    if end > len(data) or any(b >= 0x80 for b in data[at + 1 : end]):
        return None
    return end, False


def repair(path: str | Path) -> int:
    """Make a recording that was cut off mid-flush valid again: keep its complete events, end the track after them.

    The stored track length is ignored (it may be stale); the events are read up to the first End of
    Track or the first cut-off one. Returns how many events were kept (the opening track name and
    tempo included). Meant for files this module wrote; ValueError for anything else.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < _TRACK_START or data[:8] != b"MThd\x00\x00\x00\x06" or data[14:18] != b"MTrk":
        raise ValueError(f"{path} is not a single-track MIDI recording")
    end, kept = _TRACK_START, 0
    while (parsed := _next_event(data, end)) is not None and not parsed[1]:
        end, kept = parsed[0], kept + 1
    with open(path, "r+b") as f:
        f.seek(end)
        f.write(_END_OF_TRACK)
        f.truncate()
        f.seek(_LENGTH_POS)
        f.write(struct.pack(">I", end + len(_END_OF_TRACK) - _TRACK_START))
        f.flush()
        os.fsync(f.fileno())
    return kept
