"""The band's tempo and beat phase from a microphone, as a clock the drummer follows.

`BeatFollower` (livedrum.audio.tempo) runs on the audio worker thread, fed one onset-envelope hop
at a time; after each block the worker publishes what it believes as one immutable snapshot (a
reference assignment, so the loop never waits on the audio thread). The drummer asks `grid` once
per beat window: the tracker's next beat, numbered as the nearest beat of the grid it gave last
time, so small drifts bend the windows smoothly and the beat count never jumps for them. Before
the tracker first locks, and while it holds (a break, rubato), the grid is the held one. A tempo
from the musician (tap, OSC) is passed to the tracker, which then keeps it and follows the phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from livedrum.audio.onsets import FLUX_LAG_HOPS
from livedrum.audio.tempo import BeatFollower
from livedrum.live.clock import MAX_BPM, MIN_BPM, Grid, check_bpm

Log = Callable[..., None]


@dataclass(frozen=True)
class BeatSnapshot:
    """What the tracker believed after one audio block, in loop seconds (time.monotonic)."""

    period_s: float
    next_beat: float
    confidence: float
    locked: bool


class AudioBeatSync:
    """The `Sync` of `--audio-in` with `--clock internal` and no `--bpm`: tempo and phase from the audio."""

    external = False  # the drummer starts on the band's first onset, then follows this grid

    def __init__(self, hop_s: float, bpm: float, log: Log | None = None) -> None:
        self.tracker = BeatFollower(hop_s, bpm)
        self.lag_s = FLUX_LAG_HOPS * hop_s  # the envelope peaks this long after the band's onsets
        self.log: Log = log or (lambda event, **fields: None)
        self.snapshot: BeatSnapshot | None = None  # written by the audio worker, read by the loop
        self._override: float | None = None  # a tempo from the loop, for the worker to apply
        self._last: Grid | None = None
        self._ever_locked = False

    # ---- the audio worker's side -----------------------------------------------------------------

    def feed(self, times: list[float], flux: list[float]) -> None:
        """Envelope hops of one block (loop seconds of each hop's end, total flux), on the worker thread."""
        override, self._override = self._override, None
        if override is not None:
            self.tracker.set_tempo(override, fixed=True)
        for t, value in zip(times, flux):
            self.tracker.feed(t - self.lag_s, value)  # beats on the onsets, not on the envelope's peaks
        s = self.tracker.state
        self.snapshot = BeatSnapshot(s.period_s, s.next_beat, s.confidence, s.locked)

    # ---- the Sync protocol (on the loop) -----------------------------------------------------------

    def begin(self, t0: float, bpm: float, beat: float) -> None:
        self._last = Grid(t0, beat, check_bpm(bpm))

    def request_tempo(self, bpm: float) -> None:
        self._override = check_bpm(bpm)

    def grid(self, now: float) -> Grid | None:
        snap, last = self.snapshot, self._last
        if snap is None or last is None or snap.next_beat == float("inf"):
            return last if self._ever_locked else None
        if snap.locked and not self._ever_locked:
            self._ever_locked = True
            self.log("sync", line=f"found the band's tempo: {60.0 / snap.period_s:.1f} BPM")
        if not self._ever_locked:
            return None  # nothing trustworthy yet: the drummer keeps its own tempo
        bpm = min(max(60.0 / snap.period_s, MIN_BPM), MAX_BPM)
        beat = round(last.beat_at(snap.next_beat))
        self._last = Grid(snap.next_beat, float(beat), bpm)
        return self._last
