"""Musical time for the live drummer: where beat b falls on the event loop's clock, and taps.

The daemon keeps time in beats. `BeatClock` maps beats to `time.monotonic()` seconds (the clock
asyncio's loop and the rtmidi callback timestamps share) and back; a tempo change re-anchors it
at a beat, so the beats already planned keep their times. `TapTempo` turns taps into a tempo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

MIN_BPM, MAX_BPM = 30.0, 300.0


def check_bpm(bpm: float) -> float:
    """A tempo a drummer can play, or ValueError."""
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise ValueError(f"tempo must be within {MIN_BPM:.0f}..{MAX_BPM:.0f} BPM, got {bpm:g}")
    return float(bpm)


@dataclass
class BeatClock:
    """Beat 0 at `origin` seconds, `bpm` from there (piecewise: `set_tempo` re-anchors)."""

    origin: float
    bpm: float

    def __post_init__(self) -> None:
        check_bpm(self.bpm)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.bpm

    def time_of(self, beat: float) -> float:
        return self.origin + beat * self.seconds_per_beat

    def beat_at(self, t: float) -> float:
        return (t - self.origin) / self.seconds_per_beat

    def set_tempo(self, bpm: float, at_beat: float) -> None:
        """New tempo from `at_beat` on; that beat keeps its time."""
        anchor = self.time_of(at_beat)
        self.bpm = check_bpm(bpm)
        self.origin = anchor - at_beat * self.seconds_per_beat


@dataclass(frozen=True)
class Grid:
    """Another clock's beats as seen now (a MIDI clock, a Link session, the band): beat `beat`
    falls at `time` seconds, `bpm` from there. A local straight line, asked again every window."""

    time: float
    beat: float
    bpm: float

    def time_of(self, beat: float) -> float:
        return self.time + (beat - self.beat) * 60.0 / self.bpm

    def beat_at(self, t: float) -> float:
        return self.beat + (t - self.time) * self.bpm / 60.0


class Sync(Protocol):
    """Where the drummer's time comes from when it is not its own (`--clock midi|link|follow`)."""

    external: bool  # its beats are counted elsewhere (MIDI clock, Link): the drummer starts on them

    def grid(self, now: float) -> Grid | None:
        """The other clock's beats, or None while it is not running (the drummer holds its tempo)."""
        ...

    def request_tempo(self, bpm: float) -> None:
        """Our tempo changed (OSC, tap): pass it on, or ValueError when the tempo is not ours to set."""
        ...

    def begin(self, t0: float, bpm: float, beat: float) -> None:
        """The drummer starts: its beat 0 falls at t0, which is `beat` on this clock."""
        ...


@dataclass
class TapTempo:
    """Tempo from taps: the median of the last few intervals; a long pause starts over."""

    max_gap: float = 2.0  # seconds: a longer pause starts a new tap sequence
    keep: int = 4  # intervals averaged
    taps: list[float] = field(default_factory=list)

    def tap(self, t: float) -> float | None:
        """Register a tap at time t; the tempo once there are two taps in range, else None."""
        if self.taps and (t - self.taps[-1] > self.max_gap or t <= self.taps[-1]):
            self.taps.clear()
        self.taps.append(t)
        self.taps = self.taps[-(self.keep + 1) :]
        if len(self.taps) < 2:
            return None
        intervals = sorted(b - a for a, b in zip(self.taps, self.taps[1:]))
        median = intervals[len(intervals) // 2]
        bpm = 60.0 / median
        if not MIN_BPM <= bpm <= MAX_BPM:
            return None
        return bpm
