"""What the band played, as the engine hears it: timestamped MIDI in, one window of features out.

The features are computed by the same `band_features` as offline rendering, from the notes heard
so far, so a band part played live on time gives the windows `livedrum accompany` computes from
the file. A window's features are final half a step before its end: an onset later than that
rounds onto the next window's first step, exactly as offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido
import numpy as np

from livedrum.features import band_features
from livedrum.grid import STEPS_PER_BEAT
from livedrum.live.clock import BeatClock
from livedrum.song import Notes

DRUM_CHANNEL = 9  # channel 10: drum pads are not the band (offline, they are the drums)
KEEP_SECONDS = 30.0  # notes that ended longer ago than this are forgotten


@dataclass
class HeardNote:
    start: float  # seconds (time.monotonic)
    pitch: int
    velocity: int
    channel: int
    end: float | None = None  # None while held


class LiveBand:
    """The band's notes as they arrive: note-ons open a note, note-offs close it."""

    def __init__(self) -> None:
        self.notes: list[HeardNote] = []
        self._held: dict[tuple[int, int], HeardNote] = {}
        self.last_onset: float | None = None
        self.first_onset: float | None = None

    def add(self, t: float, message: mido.Message) -> bool:
        """Take one message heard at time t; True when it is a band onset (note-on, not drums)."""
        kind = message.type
        if kind not in ("note_on", "note_off") or message.channel == DRUM_CHANNEL:
            return False
        key = (message.channel, message.note)
        held = self._held.pop(key, None)
        if held is not None:
            held.end = t
        if kind == "note_off" or message.velocity == 0:
            return False
        note = HeardNote(t, message.note, message.velocity, message.channel)
        self.notes.append(note)
        self._held[key] = note
        self.last_onset = t
        if self.first_onset is None:
            self.first_onset = t
        return True

    def window(self, clock: BeatClock, beat: int) -> np.ndarray:
        """(S, Fb) band features of beat window `beat`, from what has been heard until now."""
        lo, hi = clock.time_of(beat - 1), clock.time_of(beat + 1)
        chosen = [n for n in self.notes if n.start < hi and (n.end is None or n.end >= lo)]
        if not chosen:
            return band_features(Notes.empty(), STEPS_PER_BEAT)
        start = np.array([clock.beat_at(n.start) for n in chosen])
        end = np.array([clock.beat_at(n.end) if n.end is not None else beat + 2.0 for n in chosen])
        notes = Notes.from_lists(start, end, [n.pitch for n in chosen], [n.velocity for n in chosen],
                                 [n.channel for n in chosen], [0] * len(chosen))
        return band_features(notes, STEPS_PER_BEAT, t0=float(beat))

    def silent_since(self, t: float) -> float:
        """Seconds since the last band onset (infinity when the band has not played)."""
        return float("inf") if self.last_onset is None else t - self.last_onset

    def forget(self, now: float) -> None:
        """Drop notes that ended long ago, so a long set does not grow memory."""
        cut = now - KEEP_SECONDS
        self.notes = [n for n in self.notes if n.end is None or n.end >= cut]

    def reset(self) -> None:
        """A new song: forget everything, including when the band started."""
        self.__init__()

    def release_all(self, t: float) -> None:
        """Close every held note (an input port vanished: its note-offs will never come)."""
        for note in self._held.values():
            note.end = t
        self._held.clear()
