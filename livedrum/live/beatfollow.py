"""Following the band's own time (`--clock follow`): tempo and beat phase from its onsets.

Any source of onsets feeds it: MIDI note-ons (`hear`), or an audio onset detector (`onset(t,
strength)`). The drummer starts on the band's first onset at the tempo it was given (`--bpm`, a tap);
from there each onset is matched to the nearest eighth note of the grid followed so far (onsets far
from every eighth, fills and grace notes, are left out), and a weighted straight-line fit of onset
time against beat over the last bars gives the tempo and the phase. Beats weigh more than offbeats,
loud onsets more than soft ones, recent ones more than old ones, so an accelerando or a ritardando is
followed within a beat or two. With few onsets the fit keeps its last answer: a sparse band holds the
tempo. Onsets only queue (cheap, from any thread's hand-off); the fit runs once per beat window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import mido
import numpy as np

from livedrum.live.clock import MAX_BPM, MIN_BPM, Grid, check_bpm

DRUM_CHANNEL = 9
SUBDIVISION = 2  # onsets are matched to eighth notes
MATCH_BEATS = 0.15  # an onset further than this from every eighth is not used
OFFBEAT_WEIGHT = 0.4
LOOKBACK_BEATS = 8.0  # onsets fitted: the last two bars of 4/4
HALF_LIFE_BEATS = 3.0  # an onset this many beats older than the newest counts half
MIN_POINTS = 4
CURVE_POINTS = 8  # at least this many onsets for a bend in the tempo
CURVE_T = 2.5  # a bend only when it is this many standard errors from none
MIN_SPAN_BEATS = 1.5
MAX_STEP = 0.08  # one fit moves the tempo at most this much (a wrong match cannot throw it)
RELOCK_AFTER = 8  # this many onsets in a row off the grid: the band has moved, lock onto it anew

Log = Callable[..., None]


class OnsetFollower:
    """A beat grid kept on the band's onsets."""

    external = False  # see Sync

    def __init__(self, bpm: float, log: Log | None = None) -> None:
        self.bpm = check_bpm(bpm)
        self.log: Log = log or (lambda event, **fields: None)
        self.pending: deque[tuple[float, float]] = deque(maxlen=512)  # (time, strength 0..1) not yet matched
        self.points: deque[tuple[float, float, float]] = deque(maxlen=128)  # (beat, time, weight)
        self._grid: Grid | None = None
        self._misses = 0

    # ---- input ------------------------------------------------------------------------------

    def onset(self, t: float, strength: float = 1.0) -> None:
        """One onset at time t (seconds, time.monotonic), strength 0..1."""

        if np.isfinite(t) and np.isfinite(strength) and strength > 0:
            self.pending.append((float(t), min(float(strength), 1.0)))

    def hear(self, t: float, message: mido.Message) -> None:
        """A band MIDI message (the drummer's `on_band` listener): note-ons are onsets."""
        if message.type == "note_on" and message.velocity > 0 and message.channel != DRUM_CHANNEL:
            self.onset(t, message.velocity / 127)

    # ---- the Sync protocol ------------------------------------------------------------------------

    def begin(self, t0: float, bpm: float, beat: float) -> None:
        """The drummer came in: the onset that started it is `beat` at t0."""
        self.bpm = check_bpm(bpm)
        self._grid = Grid(t0, beat, self.bpm)
        self.points.clear()
        self.points.append((beat, t0, 1.0))
        self.pending = deque(((t, s) for t, s in self.pending if t > t0 + 0.05), maxlen=self.pending.maxlen)
        self._misses = 0

    def request_tempo(self, bpm: float) -> None:
        """A tempo from the musician (OSC, tap) overrides what was followed; the band takes it from there."""
        self.bpm = check_bpm(bpm)
        if self._grid is not None:
            newest = self.points[-1] if self.points else (self._grid.beat, self._grid.time, 1.0)
            self._grid = Grid(newest[1], newest[0], self.bpm)
            self.points.clear()
            self.points.append(newest)

    def grid(self, now: float) -> Grid | None:
        """The band's beats as followed up to now; None before the drummer came in."""
        if self._grid is None:
            return None
        while self.pending:
            self._match(*self.pending.popleft())
        self._fit()
        return self._grid

    # ---- inside ------------------------------------------------------------------------------

    def _match(self, t: float, strength: float) -> None:
        grid = self._grid
        assert grid is not None
        x = grid.beat_at(t)
        q = round(x * SUBDIVISION) / SUBDIVISION
        if abs(x - q) > MATCH_BEATS:
            self._misses += 1
            if self._misses >= RELOCK_AFTER:  # the band is somewhere else now: its onset is a beat
                beat = float(round(x))
                self._grid = Grid(t, beat, grid.bpm)
                self.points.clear()
                self.points.append((beat, t, strength))
                self._misses = 0
                self.log("warning", line="lost the band's beat: locking onto it again")
            return
        self._misses = 0
        weight = strength * (1.0 if q == int(q) else OFFBEAT_WEIGHT)
        self.points.append((q, t, weight))

    def _fit(self) -> None:
        grid = self._grid
        assert grid is not None and self.points
        newest = max(q for q, _, _ in self.points)
        chosen = [(q, t, w) for q, t, w in self.points if q >= newest - LOOKBACK_BEATS]
        qs = np.array([p[0] for p in chosen])
        if len(chosen) < MIN_POINTS or qs.max() - qs.min() < MIN_SPAN_BEATS:
            return  # too little to go on: hold
        ts = np.array([p[1] for p in chosen])
        ws = np.array([p[2] for p in chosen]) * 0.5 ** ((newest - qs) / HALF_LIFE_BEATS)
        x = qs - newest
        coef = np.polyfit(x, ts, 1, w=np.sqrt(ws))
        if len(chosen) >= CURVE_POINTS:  # an accelerando or a ritardando, where the onsets show one beyond their spread
            curve, cov = np.polyfit(x, ts, 2, w=np.sqrt(ws), cov="unscaled")
            residual = (ts - np.polyval(curve, x)) * np.sqrt(ws)
            sigma2 = residual @ residual / max(1, len(chosen) - 3)
            if curve[0] ** 2 > CURVE_T ** 2 * sigma2 * cov[0, 0]:
                coef = curve
        ahead = 1.0  # a straight line through the beat ahead, where the drummer asks
        period = float(np.polyval(np.polyder(coef), ahead))
        old = 60.0 / grid.bpm
        period = float(np.clip(period, old * (1 - MAX_STEP), old * (1 + MAX_STEP)))
        bpm = float(np.clip(60.0 / period, MIN_BPM, MAX_BPM))
        self._grid = Grid(float(np.polyval(coef, ahead)), float(newest + ahead), bpm)
        self.bpm = bpm
