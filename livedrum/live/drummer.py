"""The live drummer: band events in, drums planned on the scheduler, in musical time.

Each beat window b is decided half a step before it starts, when the band's window b-1 is
complete as far as the grid can tell (a later onset rounds onto window b's first step): the
engine hears window b-1, plays window b, and the scheduler gets its notes. Follow mode comes in
on the beat after the band's first note and stops after some silent bars; lead mode keeps time
from start to stop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import mido
import numpy as np

from livedrum.engine import DrumWindow, Engine
from livedrum.features import position_features
from livedrum.fills import FILL_BEATS, FILL_CRASH, FillTiming, beat_energy, fill_sampling
from livedrum.grid import STEPS_PER_BEAT
from livedrum.groove import seed_groove
from livedrum.kits import KitMap
from livedrum.live.clock import MAX_BPM, MIN_BPM, BeatClock, Sync, TapTempo, check_bpm
from livedrum.live.listener import LiveBand
from livedrum.live.performer import DRUM_CHANNEL, DrumNote, Feel, window_notes
from livedrum.live.scheduler import SPIN_SECONDS, Scheduler

DECIDE_AHEAD_BEATS = 0.5 / STEPS_PER_BEAT  # decide window b this long before it starts
QUIET_BEFORE_STEP = SPIN_SECONDS + 0.005  # deciding (up to ~5 ms on the loop) never starts this close to a note
STEP_ROOM = 0.008  # seconds kept free before the window starts, whatever the wait for a quiet moment
MAX_BEND = 0.15  # following another clock, a window is at most this much shorter or longer than its beat
RESYNC_BEATS = 0.5  # further than this from the other clock's beat: take its beat count anew
DROP_LATE_SECONDS = 0.010  # a note whose time passed longer ago than this is not sent at all
ENDING_NOTES = ((49, 110), (36, 110))  # crash and kick on the downbeat after the band stops
MODES = ("follow", "lead")

Log = Callable[..., None]


@dataclass
class RunConfig:
    """How the live drummer plays; the musical part of `livedrum run`'s options."""

    bpm: float = 120.0
    mode: str = "follow"
    beats_per_bar: int = 4
    stop_bars: int = 2  # follow mode: stop after this many bars without a band onset
    ending: bool = True  # follow mode: a crash and kick on the downbeat after the band stops
    feel: Feel = field(default_factory=Feel)
    tap_note: int | None = None  # a note (any channel) that taps the tempo instead of playing
    tap_cc: int | None = None  # a controller that taps the tempo (values above 0)
    lead_in: float = 0.25  # lead mode: seconds from start to the first beat
    clock_out: bool = False  # send MIDI clock (24 per beat) with start and stop, for sequencers and DAWs

    def __post_init__(self) -> None:
        check_bpm(self.bpm)
        if self.mode not in MODES:
            raise ValueError(f"mode must be follow or lead, got {self.mode!r}")
        if not 2 <= self.beats_per_bar <= 12:
            raise ValueError(f"beats per bar must be within 2..12, got {self.beats_per_bar}")
        if self.stop_bars < 1:
            raise ValueError(f"stop bars must be at least 1, got {self.stop_bars}")


@dataclass
class Status:
    """A snapshot a musician can read at a glance."""

    state: str  # waiting, playing
    mode: str
    bpm: float
    bar: int  # 1-based, 0 before the first bar
    beat: int  # 1-based beat in bar
    complexity: float
    notes: int
    late: int
    dropped_input: int
    songs: int
    last_window: np.ndarray | None = None  # (S, V) hits of the last decided window


class Drummer:
    """One live drummer: its clock, what it heard, its engine, and where its notes go."""

    def __init__(self, engine: Engine, cfg: RunConfig, scheduler: Scheduler,
                 log: Log | None = None, clock_source: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.cfg = cfg
        self.scheduler = scheduler
        self.log: Log = log or (lambda event, **fields: None)
        self.now = clock_source
        self.band = LiveBand()
        self.taps = TapTempo()
        self.clock: BeatClock | None = None
        self.playing = False
        self.next_beat = 0
        self.songs = 0
        self.dropped_input = 0
        self.on_band: list[Callable[[float, mido.Message], None]] = []  # recorder, view
        self.on_tempo: list[Callable[[float, float], None]] = []  # (time, bpm)
        self.on_window: list[Callable[[int, np.ndarray], None]] = []  # (beat, (S, V) hits): the view
        self.last_window: np.ndarray | None = None
        self.fill: tuple[int, int] | None = None  # beats [start, end) of the fill planned, crash at end
        self.at_next_bar: list[Callable[[], None]] = []  # changes that wait for a bar line (presets)
        self.meter_start = 0  # the beat where the current bar length began
        self.stopped = False  # the transport: stopped by the user, not waiting for the band
        self.preset = "default"
        self.kit = KitMap("gm")  # where each General MIDI hit goes: the plugin's notes and channels
        self.fills = FillTiming()  # automatic fills: every (the preset's) bars, and on the band's rises
        self.clock_running = False  # MIDI clock out: a start was sent and no stop yet
        self.sync: Sync | None = None  # another clock to follow (--clock midi|link|follow), or our own time
        self.sync_offset = 0  # the other clock's beat at our beat 0
        self._reported_bpm = cfg.bpm
        self._good: dict[int, DrumWindow] = {}  # the last good window at each beat of the bar
        self._failures = 0
        self._wake = asyncio.Event()
        engine.lead = cfg.mode == "lead"

    # ---- input ------------------------------------------------------------------------------

    def hear(self, t: float, message: mido.Message) -> None:
        """One message from the band, heard at time t (called on the event loop)."""
        if self._is_tap(message):
            self.tap(t)
            return
        for listener in self.on_band:
            listener(t, message)
        is_onset = message.type == "note_on" and message.velocity > 0 and message.channel != DRUM_CHANNEL
        if is_onset and not self.playing and self.cfg.mode == "follow" and not self.stopped:
            self.start(t, play_first=True)
        self.band.add(t, message)

    def band_onset(self, t: float) -> None:
        """A band onset heard without a MIDI message (a microphone): follow mode comes in on it.
        Call before the onset reaches the band, since starting forgets what was heard."""
        if not self.playing and self.cfg.mode == "follow" and not self.stopped:
            self.start(t, play_first=True)

    def _is_tap(self, m: mido.Message) -> bool:
        c = self.cfg
        if c.tap_note is not None and m.type == "note_on" and m.note == c.tap_note:
            return True
        return c.tap_cc is not None and m.type == "control_change" and m.control == c.tap_cc

    def tap(self, t: float) -> None:
        if isinstance(t, float) and (bpm := self.taps.tap(t)) is not None:
            try:
                self.set_tempo(bpm)
            except ValueError as exc:  # the tempo follows a MIDI clock
                self.log("warning", line=f"tap ignored: {exc}")

    def set_tempo(self, bpm: float) -> None:
        """New tempo from the next undecided beat on; ValueError outside 30..300 BPM, or when the
        tempo is another clock's (a Link session hears of it and its peers follow)."""
        bpm = check_bpm(bpm)
        if self.sync is not None:
            self.sync.request_tempo(bpm)
        self._reported_bpm = bpm
        self.cfg = replace(self.cfg, bpm=bpm)
        if self.clock is not None:
            self.clock.set_tempo(bpm, self.next_beat)
        for listener in self.on_tempo:
            listener(self.now(), bpm)
        self.log("tempo", bpm=round(bpm, 2))
        self._wake.set()

    # ---- transport ---------------------------------------------------------------------------

    def start(self, t0: float, play_first: bool, at_beat: float | None = None) -> None:
        """Beat 0 at t0. Following a band that has already started, window 0 is decided at once
        (as offline, so that the engine's state matches it) but not played: the drums come in on
        the next beat. With another clock to follow, beat 0 moves onto its grid: the band's onset
        to the nearest beat, a start to its next bar line (`at_beat`: the clock's beat at t0, its
        next whole beat)."""
        t0 = self._onto_sync_grid(t0, play_first, at_beat)
        self.clock = BeatClock(t0, self.cfg.bpm)
        self.engine.reset()
        self.band.reset()
        self.playing = True
        self.stopped = False
        self.songs += 1
        self.next_beat = 0
        self.meter_start = -(self.sync_offset % self.cfg.beats_per_bar)  # bar lines on the other clock's
        self.fill = None
        self.fills.reset()
        if self.sync is not None:
            self.sync.begin(t0, self.cfg.bpm, float(self.sync_offset))
        self.log("start", line=f"playing: {self.cfg.mode} mode, {self.cfg.bpm:.5g} BPM", mode=self.cfg.mode,
                 bpm=self.cfg.bpm, origin=round(t0, 6))
        if play_first:
            self.decide(0, send=False)
            self.next_beat = 1
        self._wake.set()

    def _onto_sync_grid(self, t0: float, play_first: bool, at_beat: float | None) -> float:
        """Where beat 0 falls on the clock followed (and which of its beats it is: `sync_offset`)."""
        self.sync_offset = 0
        sync = self.sync
        grid = sync.grid(t0) if sync is not None and sync.external else None
        if grid is None and at_beat is None:
            return t0
        bpm = grid.bpm if grid is not None else self.cfg.bpm
        beat = at_beat if at_beat is not None else grid.beat_at(t0)  # type: ignore[union-attr]
        if play_first:
            first = round(beat)
        elif at_beat is not None:
            first = math.ceil(beat - 1e-3)
        else:
            bpb = self.cfg.beats_per_bar
            first = math.ceil((beat - 1e-3) / bpb) * bpb
        self.sync_offset = int(first)
        self.cfg = replace(self.cfg, bpm=bpm)
        self._reported_bpm = bpm
        return t0 + (first - beat) * 60.0 / bpm

    def follow_transport(self, event: str, t: float, beat: float = 0.0) -> None:
        """The followed clock's transport (MIDI Start, Continue, Stop): leading, play from its `beat`
        heard at t; following, wait for the band; a stop silences now until the next start."""
        if event == "stop":
            self.scheduler.drop_pending()
            self.halt_clock()
            self.stop(ending=False)
            self.stopped = True
            return
        self.stopped = False
        if self.cfg.mode == "lead":
            if self.playing:  # a start while playing: start over from where the clock says
                self.scheduler.drop_pending()
                self.stop(ending=False)
            self.start(t, play_first=False, at_beat=beat)

    def stop(self, ending: bool = False) -> None:
        """The song is over: an optional ending hit on the next beat, then wait for the band."""
        if not self.playing:
            return
        if ending and self.clock is not None:
            at = self.clock.time_of(self.next_beat)
            off = self.clock.time_of(self.next_beat + 0.5)
            for note, velocity in ENDING_NOTES:
                self.hit(at, off, note, velocity)
        self.playing = False
        self.fill = None
        if self.clock_running and self.clock is not None:
            self.scheduler.plan(self.clock.time_of(self.next_beat), mido.Message("stop"))
            self.clock_running = False
        bar = self.next_beat // self.cfg.beats_per_bar + 1
        self.log("stop", line=f"the band stopped: drums out at bar {bar}, waiting", bar=bar, ending=ending)
        self._wake.set()

    # ---- the beat loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Decide each window just before it starts, forever (cancel to stop). Leading, the first
        beat comes `lead_in` seconds from now unless `start` already set the clock."""
        if self.cfg.mode == "lead" and self.clock is None and not self.stopped:
            self.start(self.now() + self.cfg.lead_in, play_first=False)
        while True:
            if not self.playing or self.clock is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            b = self.next_beat
            delay = self.clock.time_of(b - DECIDE_AHEAD_BEATS) - self.now()
            if delay > 0:
                self._wake.clear()
                try:  # a tempo change or a stop re-plans the wait
                    await asyncio.wait_for(self._wake.wait(), delay)
                    continue
                except TimeoutError:
                    pass
            await asyncio.sleep(0)  # let band messages already handed over reach `hear`
            # deciding holds the loop: a note due meanwhile (a humanized one, near the decision
            # time) would wake its send late, so the decision waits until it has gone
            clock = self.clock
            room = 0.0 if clock is None else min(0.010, clock.time_of(b) - self.now() - STEP_ROOM)
            if room > 0:
                await self.scheduler.quiet(QUIET_BEFORE_STEP, patience=room)
            if self.playing and self.next_beat == b:
                self.step(b)

    def step(self, b: int) -> None:
        """Window b: hear b-1, stop if the band has gone quiet long enough, else play b."""
        clock = self.clock
        assert clock is not None
        self.next_beat = b + 1
        if b > 0:
            try:
                heard = self.band.window(clock, b - 1)
                self.fills.hear(beat_energy(heard))
                self.engine.hear(heard, self.positions(b - 1), clock.bpm)
            except Exception as exc:  # decide() falls back and resets if the state went bad
                self.log("error", line=f"listening failed at beat {b - 1}: {type(exc).__name__}: {exc}")
        if self.sync is not None:
            self._follow_sync(b)
        if self.beat_in_bar(b) == 0:
            changes, self.at_next_bar = self.at_next_bar, []
            for change in changes:
                change()
            if self.cfg.mode == "follow" and self._band_silent(b):
                self.next_beat = b
                self.stop(ending=self.cfg.ending)
                return
            bar = (b - self.meter_start) // self.cfg.beats_per_bar
            if self.fill is None and self.fills.due(bar, self.cfg.beats_per_bar):
                end = b + self.cfg.beats_per_bar  # the phrase ends with this bar: fill into the next
                self.fill = (end - FILL_BEATS, end)
        fill = self.fill
        if fill is not None and fill[0] <= b < fill[1]:
            self._decide_fill(b)
        else:
            if fill is not None and b >= fill[1]:
                self.fill = None
                if b == fill[1] and "cymbals" not in self.engine.sampling.kit_off:
                    self.hit(clock.time_of(b), clock.time_of(b + 0.5), *FILL_CRASH)
            self.decide(b)
        if self.cfg.clock_out:
            self._plan_clock(b)
        self.band.forget(self.now())

    def _follow_sync(self, b: int) -> None:
        """Bend window b so that it ends on the followed clock's next beat. Beat b keeps the time
        window b-1 gave it, and a window is never more than MAX_BEND shorter or longer than a beat,
        so no note moves back or onto another; a phase error is gone within a beat or a few."""
        clock, sync = self.clock, self.sync
        assert clock is not None and sync is not None
        grid = sync.grid(self.now())
        if grid is None:  # not running, lost or absurd: hold the tempo
            return
        start = clock.time_of(b)
        drift = grid.beat_at(start) - (b + self.sync_offset)
        if abs(drift) > RESYNC_BEATS:  # the other clock jumped (a Link session joined, a relock)
            self.sync_offset += round(drift)
            if sync.external:
                self.meter_start = -(self.sync_offset % self.cfg.beats_per_bar)
            self.log("sync", line=f"the clock followed jumped {drift:+.2f} beats: following it", drift=drift)
        nominal = 60.0 / grid.bpm
        span = grid.time_of(b + 1 + self.sync_offset) - start
        span = min(max(span, nominal * (1 - MAX_BEND)), nominal * (1 + MAX_BEND))
        clock.set_tempo(min(max(60.0 / span, MIN_BPM), MAX_BPM), b)
        if abs(grid.bpm - self._reported_bpm) >= 0.25:
            self._reported_bpm = grid.bpm
            self.cfg = replace(self.cfg, bpm=grid.bpm)
            for listener in self.on_tempo:
                listener(self.now(), grid.bpm)
            self.log("tempo", bpm=round(grid.bpm, 2), source="sync")

    def _plan_clock(self, b: int) -> None:
        """MIDI clock for beat b: a start before its first tick if the clock is not running yet."""
        clock = self.clock
        assert clock is not None
        if not self.clock_running:
            self.scheduler.plan(clock.time_of(b), mido.Message("start"))
            self.clock_running = True
        tick = mido.Message("clock")
        for k in range(24):
            self.scheduler.plan(clock.time_of(b + k / 24), tick)

    def halt_clock(self) -> None:
        """Stop the MIDI clock now (the user stopped, or the daemon exits)."""
        if self.clock_running:
            self.scheduler.send_now(mido.Message("stop"))
            self.clock_running = False

    def _decide_fill(self, b: int) -> None:
        base = self.engine.sampling
        self.engine.sampling = fill_sampling(base)
        try:
            self.decide(b)
        finally:
            self.engine.sampling = base

    def request_fill(self, bars: int | None = None) -> tuple[int, int]:
        """A fill into the next bar line (with `bars`, the last that many whole bars up to the bar
        line that many bars ahead), landing on its downbeat with a crash; the bar never stretches.
        ValueError when the drummer is not playing."""
        if not self.playing:
            raise ValueError("not playing: a fill needs a groove to come from")
        if bars is not None and not 1 <= bars <= 8:
            raise ValueError(f"fill length must be 1..8 bars, got {bars}")
        bpb, b = self.cfg.beats_per_bar, self.next_beat
        end = b + ((bpb - self.beat_in_bar(b)) % bpb or bpb)  # the next bar line still to decide
        if bars is None:
            start = max(b, end - FILL_BEATS)
        else:
            end += (bars - 1) * bpb
            start = max(b, end - bars * bpb)
        self.fill = (start, end)
        self.log("fill", start=start, end=end)
        return self.fill

    def beat_in_bar(self, b: int) -> int:
        return (b - self.meter_start) % self.cfg.beats_per_bar

    def _band_silent(self, b: int) -> bool:
        last = self.band.last_onset
        if last is None or self.clock is None:
            return True
        return b - self.clock.beat_at(last) >= self.cfg.stop_bars * self.cfg.beats_per_bar

    def decide(self, b: int, send: bool = True) -> None:
        position = self.positions(b)
        try:
            window = self.engine.play(position, self.cfg.beats_per_bar)
            window.beat = b  # the drummer's count rules (the engine's restarts when it is reset)
            if not np.isfinite(window.logit).all():
                raise FloatingPointError("the model gave non-finite values")
            self._good[self.beat_in_bar(b)] = window
        except Exception as exc:  # the show goes on: repeat the last good bar and start the model afresh
            window = self._fallback(b, position)
            self._failures += 1
            if self._failures == 1 or self._failures % 100 == 0:
                self.log("error", line=f"inference failed at beat {b} ({type(exc).__name__}: {exc}); "
                                       f"playing the last good bar ({self._failures} failures so far)")
            self.engine.reset()
        self.last_window = window.hits
        if send:
            self.plan(window_notes(window, self.cfg.feel))
        for listener in self.on_window:
            listener(b, window.hits)

    def _fallback(self, b: int, position: np.ndarray) -> DrumWindow:
        """The window played at this place in the last good bar, or the seed groove."""
        good = self._good.get(self.beat_in_bar(b))
        if good is not None:
            return replace(good, beat=b)
        S = STEPS_PER_BEAT
        hits = seed_groove("rock", position).astype(bool)
        velocity = np.where(hits, 0.7, 0.0).astype(np.float32)
        zeros = np.zeros_like(velocity)
        return DrumWindow(b, hits, velocity, zeros, np.zeros((S, hits.shape[1]), np.float32))

    def plan(self, notes: list[DrumNote]) -> None:
        clock = self.clock
        assert clock is not None
        cutoff = self.now() - DROP_LATE_SECONDS
        for n in notes:
            on = clock.time_of(n.start)
            if on < cutoff:
                self.scheduler.stats.late += 1
                continue
            self.hit(on, clock.time_of(n.end), n.note, n.velocity)

    def hit(self, on: float, off: float, note: int, velocity: int) -> None:
        """One General MIDI drum hit, planned through the kit map (its hi-hat controller first)."""
        channel, out = self.kit.out_note(note)
        for message in self.kit.map(note, velocity):
            if message.type == "note_on":
                self.scheduler.plan_note(on, off, channel, out, message.velocity)
            else:
                self.scheduler.plan(on, message)

    def positions(self, b: int) -> np.ndarray:
        bpb = self.cfg.beats_per_bar
        k = b - self.meter_start
        return position_features(np.array([k % bpb]), np.array([bpb]), np.array([k // bpb]))

    def status(self) -> Status:
        bpb = self.cfg.beats_per_bar
        bar = beat = 0
        if self.playing and self.clock is not None:
            now_beat = max(0, int(np.floor(self.clock.beat_at(self.now()))))
            k = max(0, now_beat - self.meter_start)
            bar, beat = k // bpb + 1, k % bpb + 1
        stats = self.scheduler.stats
        return Status(
            state="playing" if self.playing else "waiting", mode=self.cfg.mode, bpm=self.cfg.bpm, bar=bar,
            beat=beat, complexity=self.engine.sampling.complexity, notes=stats.notes, late=stats.late,
            dropped_input=self.dropped_input, songs=self.songs, last_window=self.last_window,
        )
