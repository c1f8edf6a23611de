"""Following a MIDI clock (`--clock midi`): 24 ticks per beat, start, continue, stop, song position.

Ticks arrive with their arrival times, jittered by the MIDI system (a JACK period, a USB frame) and
now and then late by a busy machine. The tempo and the beat phase come from a least-squares fit of
tick times against tick counts over the last two beats: a straight line, or a parabola where the
ticks bend more than their jitter explains, so that a ramp is followed without lag and a steady
clock without noise; ticks far off the fit are dropped and the fit is made again. Receiving a tick
only stores it (the event loop's cost is an append); the fit runs once per beat window, when the
drummer asks for the grid.

Transport, as the MIDI specification says: after Start the next tick is beat 0; after Continue the
next tick is the song position (set by Song Position Pointer while stopped, or where Stop left it);
Stop stops. `message()` returns "start" or "stop" for the drummer to act on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import mido
import numpy as np

from livedrum.live.clock import MAX_BPM, MIN_BPM, Grid

if TYPE_CHECKING:
    from livedrum.live.drummer import Drummer

PPQN = 24
FIT_TICKS = 2 * PPQN  # ticks fitted: two beats (three follow a ramp's end a beat later)
CURVE_TICKS = PPQN  # at least this many for the parabola (fewer: a straight line)
CURVE_T = 3.0  # the parabola only when its bend is this many standard errors from none
OUTLIER_S = 0.002  # a tick further than this (and 4 robust deviations) off the fit is not used
LOST_TICKS = 12  # no tick for this many tick periods: the clock is lost, the drummer holds its tempo
LOST_MIN_S = 0.25
JUMP_AFTER = 3  # this many ticks in a row off by periods: not losses or copies, the tempo jumped
PERIOD_TICKS = 8  # the tick period is the median of this many last intervals
MAX_CURVE = 0.1  # the parabola may bend the tempo at most this much over the beat ahead

Log = Callable[..., None]


class MidiClockFollower:
    """Tempo, phase and transport from MIDI clock messages and their arrival times."""

    external = True  # see Sync

    def __init__(self, log: Log | None = None) -> None:
        self.log: Log = log or (lambda event, **fields: None)
        self.ticks: deque[tuple[int, float]] = deque(maxlen=FIT_TICKS)  # (tick count, arrival time)
        self.count = -1  # ticks seen since we started listening (a running count, not the song position)
        self.running = False
        self.position = 0  # song position in ticks of the next tick to be played
        self._armed = False  # a start or continue came: the next tick is `position`
        self._origin: tuple[int, int] | None = None  # (tick count, song position in ticks) while running
        self._lost = False
        self._absurd = False
        self._held: Grid | None = None  # the last good grid, held while the clock is lost
        self.missed = 0  # ticks that never arrived (a busy MIDI system drops some), counted from the gaps
        self._odd = 0  # ticks in a row that came a period off (lost ones, copies)
        self._just_missed = 0  # ticks counted as lost just before the last one
        self.copies = 0  # ticks that came twice, dropped

    # ---- input (on the event loop, cheap) -----------------------------------------------------

    def message(self, t: float, message: mido.Message) -> str | None:
        """One clock message heard at time t; "start" (the first tick after Start or Continue) or
        "stop" when the transport changes, else None."""

        kind = message.type
        if kind == "clock":
            return self._tick(t)
        if kind == "start":
            self.position, self._armed = 0, True
        elif kind == "continue":
            self._armed = True
        elif kind == "stop":
            self._armed = False
            if self.running:
                self.position = self._position_of(self.count) + 1
                self.running = False
                self._origin = None
                return "stop"
        elif kind == "songpos" and not self.running:
            self.position = int(message.pos) * PPQN // 4  # the pointer counts sixteenths
        return None

    def _tick(self, t: float) -> str | None:
        steps = 1
        period = self._step_period()
        if self.ticks:
            last_t = self.ticks[-1][1]
            if t < last_t:  # time stamps never run backwards; such a tick is garbage
                return None
            if period is not None and t - last_t > max(LOST_MIN_S, LOST_TICKS * period):
                # back after a gap: count the ticks it should have sent, fit afresh
                steps = max(1, round((t - last_t) / period))
                self.ticks.clear()
                self.log("warning", line=f"MIDI clock back after {t - last_t:.2f} s")
                self._lost = False
            elif period is not None:
                steps = self._steps(round((t - last_t) / period))
                if steps == 0:
                    return None
        self.count += steps
        self.ticks.append((self.count, t))
        if self._armed:
            self._armed = False
            self.running = True
            self._origin = (self.count, self.position)
            return "start"
        return None

    def _steps(self, steps: int) -> int:
        """How many ticks on from the last this one is, given how many periods after it it came:
        two or more, ticks were lost on the way (counted); none, it is a copy of the last (the MIDI
        system sends some twice: dropped), unless the last was taken for a loss when it was only
        late (that count is undone). Several odd ones in a row: the tempo itself jumped; count on."""
        if steps == 1:
            self._odd = self._just_missed = 0
            return 1
        self._odd += 1
        if self._odd >= JUMP_AFTER:
            self.log("warning", line="MIDI clock tempo jumped: counting its ticks anew")
            self.ticks.clear()
            self._odd = self._just_missed = 0
            return 1
        if steps > 1:
            self.missed += steps - 1
            self._just_missed = steps - 1
            return steps
        if self._just_missed:  # the last was late, not after a loss: move it back one
            n, last = self.ticks.pop()
            self.ticks.append((n - 1, last))
            if self._origin is not None and self._origin[0] == n:
                self._origin = (n - 1, self._origin[1])
            self.count -= 1
            self.missed -= 1
            self._odd = self._just_missed = 0
            return 1
        self.copies += 1
        return 0

    # ---- what the drummer asks once a window -----------------------------------------------------

    def beat_of(self, count: int) -> float:
        return self._position_of(count) / PPQN

    def _position_of(self, count: int) -> int:
        if self._origin is None:
            return self.position
        n0, p0 = self._origin
        return p0 + count - n0

    def _step_period(self) -> float | None:
        """Seconds per tick: the median of the last few intervals (lost ticks, copies and late ones
        do not move it), or None while too few ticks are in to judge by."""
        if len(self.ticks) < PERIOD_TICKS // 2 + 1:
            return None
        recent = list(self.ticks)[-PERIOD_TICKS - 1:]
        per_step = sorted((t1 - t0) / (n1 - n0) for (n0, t0), (n1, t1) in zip(recent, recent[1:]))
        return per_step[len(per_step) // 2]

    def _period(self) -> float | None:
        """Seconds per tick over the ticks kept (a few, at first, are too few to judge gaps by)."""
        if len(self.ticks) < 8:
            return None
        (n0, t0), (n1, t1) = self.ticks[0], self.ticks[-1]
        return (t1 - t0) / (n1 - n0) if n1 > n0 and t1 > t0 else None

    def grid(self, now: float) -> Grid | None:
        """The clock's beats around the beat ahead of `now`, while running; held (with one line)
        when the ticks stop coming, None when stopped or absurd (the drummer holds its tempo)."""
        if not self.running:
            return None
        fit = self.fit(now)
        if fit is None:
            return self._held
        n_p, t_p, period = fit
        bpm = 60.0 / (period * PPQN)
        if not MIN_BPM <= bpm <= MAX_BPM:
            if not self._absurd:
                self.log("warning", line=f"MIDI clock at {bpm:.0f} BPM is out of range "
                                         f"({MIN_BPM:.0f}..{MAX_BPM:.0f}): holding the tempo")
            self._absurd = True
            return self._held
        if self._absurd:
            self.log("warning", line=f"MIDI clock back in range: {bpm:.1f} BPM")
            self._absurd = False
        last_t = self.ticks[-1][1]
        if now - last_t > max(LOST_MIN_S, LOST_TICKS * period):
            if not self._lost:
                self.log("warning", line=f"MIDI clock lost (no tick for {now - last_t:.2f} s): "
                                         f"holding {self._held.bpm if self._held else bpm:.1f} BPM")
            self._lost = True
            return self._held
        self._held = Grid(t_p, n_p / PPQN + self._origin_beat(), bpm)
        return self._held

    def _origin_beat(self) -> float:
        """Song beat minus tick count / PPQN: turns a tick count into a song beat."""
        return self.beat_of(0)

    def fit(self, now: float) -> tuple[float, float, float] | None:
        """(tick count, time, seconds per tick) one beat after `now`, from the ticks in, or None."""
        if len(self.ticks) < 3:
            return None
        n = np.array([k for k, _ in self.ticks], dtype=np.float64)
        t = np.array([s for _, s in self.ticks], dtype=np.float64)
        x = n - n[-1]
        keep = np.ones(len(x), bool)
        for _ in range(2):  # fit, drop ticks far off it, fit again
            coef = np.polyfit(x[keep], t[keep], 1)
            if keep.sum() >= CURVE_TICKS:  # a bend only where the ticks show one beyond their jitter
                curve, cov = np.polyfit(x[keep], t[keep], 2, cov="unscaled")
                residual = t[keep] - np.polyval(curve, x[keep])
                sigma2 = residual @ residual / max(1, keep.sum() - 3)
                if curve[0] ** 2 > CURVE_T ** 2 * sigma2 * cov[0, 0]:
                    coef = curve
            residual = t - np.polyval(coef, x)
            spread = 1.4826 * np.median(np.abs(residual[keep]))
            far = np.abs(residual) > max(OUTLIER_S, 4 * spread)
            if not far[keep].any() or (keep & ~far).sum() < 3:
                break
            keep &= ~far
        slope_now = np.polyval(np.polyder(coef), 0.0)
        if not slope_now > 0:
            return None
        x_p = (now - t[-1]) / slope_now + PPQN  # one beat after now
        slope_p = np.polyval(np.polyder(coef), x_p)
        if not abs(slope_p / slope_now - 1) <= MAX_CURVE:  # a bend too far to trust: the straight line
            line = np.polyfit(x[keep], t[keep], 1)
            coef, slope_p = line, line[0]
        return float(n[-1] + x_p), float(np.polyval(coef, x_p)), float(slope_p)

    # ---- the rest of the Sync protocol --------------------------------------------------------

    def request_tempo(self, bpm: float) -> None:
        raise ValueError("the tempo follows the MIDI clock (--clock midi): change it at the clock's source")

    def begin(self, t0: float, bpm: float, beat: float) -> None:
        """Nothing to do: the clock's beats do not depend on when the drummer starts."""


def transport_listener(follower: MidiClockFollower, drummer: Drummer) -> Callable[[float, mido.Message], None]:
    """What the session calls with each clock message: the follower hears it, the drummer starts at
    the clock's beat or stops when the transport says so."""

    def listen(t: float, message: mido.Message) -> None:
        event = follower.message(t, message)
        if event == "start":
            beat = follower.beat_of(follower.count)
            drummer.log("transport", line=f"MIDI clock: start at beat {beat:g}", beat=beat)
            drummer.follow_transport("start", t, beat)
        elif event == "stop":
            drummer.log("transport", line="MIDI clock: stop")
            drummer.follow_transport("stop", t)

    return listen
