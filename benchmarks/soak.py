"""Soak: does the live drummer hold up for a whole show? Memory, timing drift, late and stuck notes.

Two runs (issue 7), each printing its figures and PASS/FAIL against the goals:

- `--virtual HOURS` (default 3): a show on a virtual clock, in minutes of wall time. The shipped
  model drums along with a setlist (the bundled band part and generated ones, 80..180 BPM), songs
  one after another with silence between them, so follow mode stops and comes in again. Band
  messages reach `Drummer.hear` with their exact virtual times, each window is decided with `step`
  half a step before its beat (as the daemon's loop does), the scheduler sends what is due as
  virtual time advances, the recording is flushed every beat, and OSC-like changes (complexity,
  kit, presets, fills, tempo steps and taps, pause) come through `Controller`. Each window's real
  cost is measured against its budget (the half step it is decided ahead); `--charge` also adds it
  to the virtual clock, so that a slow window makes notes late (tracemalloc slows windows 3x).
- `--jack MINUTES` (default 15): the real daemon (`livedrum run --backend jack`) on a JACK server of
  its own (dummy driver, 48 kHz, 64 frames), a band client process looping the demo band part with
  pauses (songs start and stop), a receiver process stamping what arrives, the daemon's memory
  sampled every 10 s, and SIGTERM while it plays.

Goals: memory growth under 10 MB, no late notes, no drift (virtual: 1 us; JACK: the mean error of
the first and last minute within a quarter of a JACK period, and the line fitted through the
per-minute mean errors moving less than 0.1 ms over the run; the per-minute p1, which wanders with
the phase of JACK's cycle by a few tenths of a millisecond either way, is shown, not judged),
no stuck notes, a valid recording holding every note sent.

    python benchmarks/soak.py --virtual 3
    nohup python benchmarks/soak.py --jack 15 --keep soak-jack > soak-jack.txt 2>&1 &
    python benchmarks/soak.py --analyse soak-jack/jack     # the JACK figures again, from its files
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))

import live_timing  # noqa: E402

import livedrum.live.scheduler as scheduler_module  # noqa: E402
from livedrum.grid import STEPS_PER_BEAT  # noqa: E402
from livedrum.live.clock import BeatClock  # noqa: E402
from livedrum.live.controller import Controller  # noqa: E402
from livedrum.live.drummer import DECIDE_AHEAD_BEATS, Drummer, RunConfig  # noqa: E402
from livedrum.live.logs import EventLog  # noqa: E402
from livedrum.live.performer import DRUM_CHANNEL  # noqa: E402
from livedrum.live.recorder import Recorder  # noqa: E402
from livedrum.live.scheduler import LATE_SECONDS, Scheduler  # noqa: E402
from livedrum.live.session import RecordingTap, Session  # noqa: E402
from livedrum.live.sources import band_messages  # noqa: E402
from livedrum.midifile import load_song  # noqa: E402
from livedrum.presets import STYLES_DIR  # noqa: E402

DEMO_BAND = ROOT / "livedrum" / "data" / "demo-band.mid"
MEMORY_GOAL_MB = 10.0
DRIFT_GOAL_S = 1e-6  # virtual clock: planned and sent times exact to a microsecond
JACK_PERIOD_S = 64 / 48000  # a JACK cycle: MIDI arrives at a cycle boundary, up to one period after it is sent
# JACK: how far the mean error may move from the first minute to the last. The drummer's clock starts
# afresh with each song, at a phase of JACK's cycle that chance decides; that phase alone moves a song's
# mean error by up to a quarter of a period (notes lie on a 12-step grid: 31.25 periods a step at 120 BPM).
JACK_DRIFT_GOAL_S = JACK_PERIOD_S / 4
TREND_GOAL_MS = 0.1  # the least-squares line through the per-minute mean errors moves less over the run
VIRTUAL_START = 1_000_000.125  # the virtual clock starts where time.monotonic() is after 11.6 days of uptime
TEMPO_RANGE = (80.0, 180.0)
PIECES = ("kick", "snare", "hihat", "toms", "cymbals", "percussion")
PRESETS = sorted(p.stem for p in Path(STYLES_DIR).glob("*.toml"))


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process, from /proc (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_verdict(r: dict) -> bool:
    """Where the files are, every goal with its verdict, then PASS or FAIL (True for PASS)."""
    print(f"files: {r['folder']}")
    for line in verdict_table(r["goals"]):
        print(line)
    ok = all(g[3] is not False for g in r["goals"])
    print("PASS" if ok else "FAIL")
    return ok


def verdict_table(rows: list[tuple[str, str, str, bool | None]]) -> list[str]:
    """(figure, value, goal, passed or None for information only) as aligned lines."""
    lines = [f"{'figure':<52} {'value':>24}  {'goal':<18} verdict", "-" * 106]
    for name, value, goal, ok in rows:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"{name:<52} {value:>24}  {goal:<18} {mark}")
    return lines


@dataclass
class Spread:
    """Count, mean and extremes of a stream of numbers in constant memory: a soak must not grow lists
    of its own while it measures the drummer's memory."""

    n: int = 0
    total: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf

    def add(self, x: float) -> None:
        self.n += 1
        self.total += x
        self.lo = min(self.lo, x)
        self.hi = max(self.hi, x)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def max_abs(self) -> float:
        return max(abs(self.lo), abs(self.hi)) if self.n else 0.0


# ---- the virtual show ----------------------------------------------------------------------------

class VirtualTime:
    """The show's clock: advanced by the soak, read by the drummer, controller and scheduler."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@contextlib.contextmanager
def scheduler_on(clock: VirtualTime) -> Iterator[None]:
    """The scheduler reads time.monotonic() itself (its lateness, panic note-offs): point it at the
    virtual clock while the show runs, so that `stats.late` means late on the show's clock."""
    saved = scheduler_module.time
    scheduler_module.time = types.SimpleNamespace(monotonic=clock)
    try:
        yield
    finally:
        scheduler_module.time = saved


class ExactClock:
    """Where a BeatClock should put a beat, in exact rational arithmetic (no rounding at all);
    re-anchored at tempo changes as the real one is. Beats only move forward, so the current
    segment is all it keeps."""

    def __init__(self, origin: float, bpm: float) -> None:
        self.b0, self.t0, self.spb = Fraction(0), Fraction(origin), Fraction(60) / Fraction(bpm)

    def time_of(self, beat: float) -> Fraction:
        return self.t0 + (Fraction(beat) - self.b0) * self.spb

    def set_tempo(self, at_beat: float, bpm: float) -> None:
        t = self.time_of(at_beat)
        self.b0, self.t0, self.spb = Fraction(at_beat), t, Fraction(60) / Fraction(bpm)


class SoakDrummer(Drummer):
    """The live drummer, checking every note it plans against its clock's exact grid."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.exact: ExactClock | None = None
        self.grid_error = Spread()  # seconds: planned time - exact time of the note's beat position
        self.check_seconds = 0.0  # real time spent on those checks: not the drummer's cost

    def start(self, t0: float, play_first: bool) -> None:
        self.exact = ExactClock(t0, self.cfg.bpm)
        super().start(t0, play_first)

    def set_tempo(self, bpm: float) -> None:
        at = self.next_beat
        super().set_tempo(bpm)
        if self.playing and self.exact is not None:
            self.exact.set_tempo(at, self.cfg.bpm)

    def plan(self, notes: list) -> None:
        began = time.perf_counter()
        clock, exact = self.clock, self.exact
        assert clock is not None and exact is not None
        for n in notes:
            self.grid_error.add(float(Fraction(clock.time_of(n.start)) - exact.time_of(n.start)))
        self.check_seconds += time.perf_counter() - began
        super().plan(notes)


@dataclass
class Part:
    """A band part: its messages in beats, and how long it is."""

    name: str
    messages: list[tuple[float, mido.Message]]
    beats: float


@dataclass
class Gig:
    """One song of the setlist: a part looped `repeats` times at a tempo, after `gap` s of silence."""

    part: Part
    repeats: int
    bpm: float
    count_in: str  # "tempo": set by OSC; "taps": tapped in
    gap: float

    @property
    def seconds(self) -> float:
        return self.gap + self.repeats * self.part.beats * 60.0 / self.bpm

    def messages(self) -> Iterator[tuple[float, mido.Message]]:
        for k in range(self.repeats):
            for beat, message in self.part.messages:
                yield beat + k * self.part.beats, message


def band_parts(folder: Path, bars: tuple[int, int], seed: int) -> list[Part]:
    """The bundled band part and seven generated ones (tests.conftest.write_band_song)."""
    from tests.conftest import write_band_song

    rnd = random.Random(seed)
    paths = [DEMO_BAND]
    for k in range(1, 8):
        paths.append(write_band_song(folder / f"band-{k}.mid", bars=rnd.randint(*bars), seed=seed * 100 + k))
    parts = []
    for path in paths:
        messages = band_messages(load_song(path))
        beats = math.ceil(messages[-1][0] / 4) * 4.0  # whole bars
        parts.append(Part(path.stem, messages, beats))
    return parts


def setlist(parts: list[Part], hours: float, seed: int, song_seconds: tuple[float, float]) -> list[Gig]:
    """Songs until the show is `hours` long (two at least: memory is measured from the second one on):
    parts looped to a song's length, tempos 80..180 BPM."""
    rnd = random.Random(seed)
    gigs: list[Gig] = []
    total = 0.0
    while total < hours * 3600.0 or len(gigs) < 2:
        part = parts[len(gigs) % len(parts)]
        bpm = round(rnd.uniform(*TEMPO_RANGE), 1)  # 97.3 BPM: 60/bpm is no round binary number
        seconds = rnd.uniform(*song_seconds)
        repeats = max(1, round(seconds / (part.beats * 60.0 / bpm)))
        gig = Gig(part, repeats, bpm, "taps" if len(gigs) % 3 == 2 else "tempo", gap=rnd.uniform(8.0, 20.0))
        gigs.append(gig)
        total += gig.seconds
    return gigs


@dataclass
class Control:
    """An OSC-like change at a band beat of the song."""

    beat: float
    name: str
    arg: object = None


def song_controls(rnd: random.Random, beats: float) -> list[Control]:
    """What a musician does during a song: complexity, kit pieces off and on again, fills, presets,
    tempo steps, now and then a pause."""
    out: list[Control] = []
    beat = rnd.uniform(12.0, 24.0)
    while beat < beats - 8.0:
        kind = rnd.choices(["complexity", "kit", "fill", "preset", "tempo_step", "pause"], [4, 3, 3, 2, 1, 0.4])[0]
        if kind == "complexity":
            out.append(Control(beat, kind, round(rnd.uniform(0.1, 0.95), 2)))
        elif kind == "kit":
            piece = rnd.choice(PIECES)
            out += [Control(beat, kind, piece), Control(beat + rnd.randint(4, 16), kind, piece)]
        elif kind == "fill":
            out.append(Control(beat, kind, rnd.choice([None, 1, 2])))
        elif kind == "preset":
            out.append(Control(beat, kind, rnd.choice(PRESETS)))
        elif kind == "tempo_step":
            out.append(Control(beat, kind, rnd.choice([-2.0, -1.0, 1.0, 2.0])))
        else:
            out += [Control(beat, "stop"), Control(beat + rnd.randint(4, 8), "start")]
        beat += rnd.uniform(16.0, 48.0)
    return sorted(out, key=lambda c: c.beat)


class Show:
    """The whole show on a virtual clock: one drummer, one scheduler, one recording."""

    def __init__(self, engine: object, gigs: list[Gig], record: Path, log: Path, seed: int,
                 charge_compute: bool, traced: bool) -> None:
        self.now = VirtualTime(VIRTUAL_START)
        self.gigs = gigs
        self.rnd = random.Random(seed)
        self.charge_compute = charge_compute
        self.traced = traced
        self.scheduler = Scheduler(self._send)
        self.log = EventLog(log, quiet=True)
        self.drummer = SoakDrummer(engine, RunConfig(bpm=gigs[0].bpm, mode="follow"), self.scheduler, self.log,
                                   clock_source=self.now)
        self.controller = Controller(self.drummer, now=self.now)
        self.recording = RecordingTap(Recorder(record, gigs[0].bpm), gigs[0].bpm, self.now.t)
        self.session = Session(self.drummer, self.scheduler, self.log, self.recording)
        # the recording's own timeline runs through the whole show: mirror it exactly (before the
        # tap re-anchors, so that both see the same beat)
        self.tape_exact = ExactClock(self.now.t, gigs[0].bpm)
        self.drummer.on_tempo.insert(0, self._mirror_tape)
        self.drummer.on_tempo.append(self._band_follows)
        self.scheduler.listeners.append(self._sent)
        self.band_clock: BeatClock | None = None
        self.next_flush = self.now.t
        # figures, all in constant memory
        self.send_error = Spread()  # note-ons: virtual send time - planned time
        self.late_by_send = 0
        self.sounding: Counter[tuple[int, int]] = Counter()
        self.left_sounding = 0  # notes still sounding when a song was over and its notes all sent
        self.windows = 0
        self.over_budget = 0  # windows that took longer than the half step they are decided ahead
        self.max_windows = int(sum(g.seconds * g.bpm / 60.0 for g in gigs) * 1.2) + 1000
        self.step_cost = np.zeros(self.max_windows)  # seconds of real time per window
        self.band_ons = 0
        self.changes: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.flush_errors = 0
        self.memory: dict[str, tuple[float, float]] = {}
        self.tape_beat = self.tape_error = math.nan

    # ---- what the drummer sends --------------------------------------------------------------

    def _send(self, message: mido.Message) -> None:
        if message.type == "note_on" and message.velocity > 0:
            self.sounding[(message.channel, message.note)] += 1
        elif message.type in ("note_on", "note_off"):
            key = (message.channel, message.note)
            if self.sounding[key] > 0:
                self.sounding[key] -= 1
            if not self.sounding[key]:
                del self.sounding[key]
        elif message.type == "control_change" and message.control == 123:
            for key in [k for k in self.sounding if k[0] == message.channel]:
                del self.sounding[key]

    def _sent(self, planned: float, message: mido.Message) -> None:
        if message.type == "note_on" and message.velocity > 0:
            error = self.now.t - planned
            self.send_error.add(error)
            self.late_by_send += error > LATE_SECONDS

    # ---- tempo: the recording's timeline, and a band that follows the drummer's tempo steps ----------

    def _mirror_tape(self, t: float, bpm: float) -> None:
        self.tape_exact.set_tempo(self.recording.clock.beat_at(t), bpm)

    def _band_follows(self, t: float, bpm: float) -> None:
        d = self.drummer
        if d.playing and d.clock is not None and self.band_clock is not None:
            at = d.clock.time_of(d.next_beat)  # where the drummer's new tempo begins
            self.band_clock.set_tempo(bpm, self.band_clock.beat_at(at))

    # ---- time passing -------------------------------------------------------------------------

    async def _flush(self) -> None:
        try:
            await self.recording.flush(self.now.t)
        except OSError:
            self.flush_errors += 1
        self.next_flush += 60.0 / self.drummer.cfg.bpm

    async def idle(self, seconds: float) -> None:
        """Silence: only the scheduler's leftovers and the recording's flushes, once a beat."""
        end = self.now.t + seconds
        while True:
            t = min(self.next_flush, self.scheduler.next_time() or math.inf)
            if t > end:
                break
            self.now.t = max(self.now.t, t)
            self.scheduler.send_due(self.now.t)
            if self.next_flush <= self.now.t:
                await self._flush()
        self.now.t = end
        self.scheduler.send_due(end)

    def _step(self) -> None:
        d = self.drummer
        b = d.next_beat
        checks = d.check_seconds
        began = time.perf_counter()
        d.step(b)
        cost = time.perf_counter() - began - (d.check_seconds - checks)
        if self.windows < self.max_windows:
            self.step_cost[self.windows] = cost
        self.windows += 1
        self.over_budget += cost > DECIDE_AHEAD_BEATS * 60.0 / d.cfg.bpm
        if self.charge_compute:
            self.now.t += cost  # the loop is busy this long: band messages wait, due notes go late

    def _control(self, c: Control) -> None:
        ctl = self.controller
        try:
            if c.name == "kit":
                ctl.toggle_kit(str(c.arg))
            elif c.name in ("stop", "start"):
                getattr(ctl, c.name)()
            else:
                getattr(ctl, c.name)(c.arg)
            self.changes[c.name] += 1
        except (TypeError, ValueError):
            self.refused[c.name] += 1  # a fill while waiting for the band, say: refused, nothing changed

    async def count_in(self, gig: Gig) -> None:
        """Between songs: a preset now and then, and the next tempo, set or tapped."""
        if self.rnd.random() < 0.3:
            self._control(Control(0.0, "preset", self.rnd.choice(PRESETS)))
        if gig.count_in == "taps":
            interval = 60.0 / gig.bpm
            for k in range(5):
                if k:
                    await self.idle(interval)
                self.controller.tap()
            self.changes["tap"] += 5
        else:
            self._control(Control(0.0, "tempo", gig.bpm))
        await self.idle(60.0 / gig.bpm)

    async def play(self, gig: Gig) -> None:
        """One song: the band until its last note, the drummer until it has stopped and sent everything."""
        d, sched = self.drummer, self.scheduler
        messages = gig.messages()
        first = next(messages)
        bpm = d.cfg.bpm  # as set or tapped: the band plays the tempo the drummer was given
        self.band_clock = band = BeatClock(self.now.t - first[0] * 60.0 / bpm, bpm)
        controls = song_controls(self.rnd, gig.repeats * gig.part.beats)
        pending: tuple[float, mido.Message] | None = first
        ci = 0
        while pending is not None or d.playing or sched.next_time() is not None:
            t_band = band.time_of(pending[0]) if pending is not None else math.inf
            t_ctl = band.time_of(controls[ci].beat) if ci < len(controls) and pending is not None else math.inf
            t_decide = d.clock.time_of(d.next_beat - DECIDE_AHEAD_BEATS) if d.playing and d.clock else math.inf
            t_send = sched.next_time() or math.inf
            t = min(t_band, t_ctl, t_decide, t_send, self.next_flush)
            self.now.t = max(self.now.t, t)
            sched.send_due(self.now.t)
            if t == t_send:
                continue
            if t == t_band:  # stamped when it arrived, as the MIDI driver does, even if the loop was busy
                assert pending is not None
                self.band_ons += pending[1].type == "note_on" and pending[1].velocity > 0
                self.session.hear_now(t_band, pending[1])
                pending = next(messages, None)
            elif t == t_ctl:
                self._control(controls[ci])
                ci += 1
            elif t == t_decide:
                self._step()
            else:
                await self._flush()
        for c in controls[ci:]:  # the band has ended: kit pieces back as they were, a pause released
            if c.name in ("kit", "start"):
                self._control(c)
        self.band_clock = None
        self.left_sounding += sum(self.sounding.values())

    def measure(self, label: str) -> None:
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] / 2**20 if self.traced else float("nan")
        self.memory[label] = (rss_mb(), traced)

    async def run(self, progress: bool) -> None:
        began = time.monotonic()
        for i, gig in enumerate(self.gigs):
            if i == 1:
                self.measure("song 2")
            await self.idle(gig.gap)
            await self.count_in(gig)
            await self.play(gig)
            if progress and (i % 10 == 9 or i == len(self.gigs) - 1):
                hours = (self.now.t - VIRTUAL_START) / 3600
                print(f"  {i + 1}/{len(self.gigs)} songs, {hours:.2f} h of show, {self.windows} windows, "
                      f"{time.monotonic() - began:.0f} s, RSS {rss_mb():.1f} MB", flush=True)
        await self.idle(5.0)
        self.measure("end")
        self.tape_beat = self.recording.clock.beat_at(self.now.t)
        self.tape_error = float(Fraction(self.recording.clock.time_of(self.tape_beat))
                                - self.tape_exact.time_of(self.tape_beat))
        self.session.shutdown()  # panic and recording saved, as the daemon's way out


def make_engine() -> object:
    """The daemon's engine: shipped model, calibrated sampling, every hit on the grid, warmed up."""
    from livedrum.live.cli import make_engine as daemon_engine

    return daemon_engine(argparse.Namespace(model=None, complexity=None, seed=0, kit_off="", humanize=0.0,
                                            device="cpu"))


def long_clock_error(origin: float, bpm: float, hours: float) -> tuple[int, float]:
    """A BeatClock running for the whole show: beat N against origin + N * 60 / bpm, exactly."""
    beats = round(hours * 3600.0 * bpm / 60.0)
    got = BeatClock(origin, bpm).time_of(beats)
    return beats, float(Fraction(got) - ExactClock(origin, bpm).time_of(beats))


def count_recording(path: Path) -> tuple[int, int]:
    """(drum note-ons, band note-ons) in a recording; raises if the file is not valid MIDI."""
    drums = band = 0
    for message in mido.MidiFile(path):
        if message.type == "note_on" and message.velocity > 0:
            if message.channel == DRUM_CHANNEL:
                drums += 1
            else:
                band += 1
    return drums, band


def virtual_soak(hours: float = 3.0, seed: int = 0, traced: bool = True, charge_compute: bool = False,
                 song_seconds: tuple[float, float] = (150.0, 300.0), bars: tuple[int, int] = (24, 48),
                 progress: bool = True, keep: Path | None = None) -> dict:
    """Play the show; every figure the report needs, with `goals` as (name, value, goal, passed) rows."""
    folder = Path(tempfile.mkdtemp(prefix="livedrum-soak-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    wall0 = time.monotonic()
    gigs = setlist(band_parts(folder, bars, seed), hours, seed, song_seconds)
    engine = make_engine()
    record, log = folder / "show.mid", folder / "show.jsonl"
    if traced:
        tracemalloc.start()
    show = Show(engine, gigs, record, log, seed, charge_compute, traced)
    try:
        with scheduler_on(show.now):
            asyncio.run(show.run(progress))
    finally:
        if traced:
            tracemalloc.stop()
        show.log.close()
    wall = time.monotonic() - wall0
    stats = show.scheduler.stats
    drums, band = count_recording(record)  # raises on an invalid file: that is a failure too
    origin_check = [long_clock_error(VIRTUAL_START, bpm, hours) for bpm in sorted({g.bpm for g in gigs})]
    worst_long = max(origin_check, key=lambda x: abs(x[1]))
    cost = show.step_cost[: min(show.windows, show.max_windows)] * 1000
    rss_growth = show.memory["end"][0] - show.memory["song 2"][0]
    traced_growth = show.memory["end"][1] - show.memory["song 2"][1]
    result = {
        "hours": (show.now.t - VIRTUAL_START) / 3600, "songs": len(gigs), "starts": show.drummer.songs,
        "windows": show.windows, "wall_s": wall, "notes": stats.notes, "late": stats.late,
        "late_by_send": show.late_by_send, "send_error_max": show.send_error.max_abs,
        "grid_error_max": show.drummer.grid_error.max_abs, "grid_notes": show.drummer.grid_error.n,
        "tape_beat": show.tape_beat, "tape_error": show.tape_error, "long_clock": worst_long,
        "rss": show.memory, "rss_growth": rss_growth, "traced_growth": traced_growth,
        "stuck_after_panic": sum(show.scheduler.sounding.values()), "stuck_by_send": sum(show.sounding.values()),
        "left_sounding": show.left_sounding, "recorded_drums": drums, "recorded_band": band,
        "band_ons": show.band_ons, "changes": dict(show.changes), "refused": dict(show.refused),
        "flush_errors": show.flush_errors, "step_ms": (np.percentile(cost, 50), np.percentile(cost, 99), cost.max()),
        "log_errors": show.log.errors, "folder": str(folder), "over_budget": show.over_budget,
        "charged": charge_compute, "traced": traced,
    }
    n_long, e_long = worst_long
    result["goals"] = [
        ("resident memory (VmRSS), song 2 -> end", f"{rss_growth:+.2f} MB", f"< {MEMORY_GOAL_MB:g} MB",
         rss_growth < MEMORY_GOAL_MB),
        ("traced Python memory (tracemalloc), song 2 -> end",
         f"{traced_growth:+.3f} MB" if traced else "not traced", f"< {MEMORY_GOAL_MB:g} MB",
         traced_growth < MEMORY_GOAL_MB if traced else None),
        ("late notes (scheduler stats.late)", f"{stats.late}", "0", stats.late == 0),
        ("note-ons sent > 1 ms after planned (own count)", f"{show.late_by_send}", "0", show.late_by_send == 0),
        ("sent - planned, note-ons, max |error|", f"{show.send_error.max_abs * 1e6:.3f} us", "<= 1 us",
         show.send_error.max_abs <= DRIFT_GOAL_S),
        (f"planned vs exact grid, {show.drummer.grid_error.n} notes, max", f"{result['grid_error_max'] * 1e9:.3f} ns",
         "<= 1 us", result["grid_error_max"] <= DRIFT_GOAL_S),
        (f"BeatClock beat {n_long} vs origin + N*60/bpm", f"{e_long * 1e9:.3f} ns", "<= 1 us",
         abs(e_long) <= DRIFT_GOAL_S),
        (f"recording timeline beat {show.tape_beat:.0f} (whole show)", f"{show.tape_error * 1e9:.3f} ns",
         "<= 1 us", abs(show.tape_error) <= DRIFT_GOAL_S),
        ("stuck notes after panic (scheduler.sounding)", f"{result['stuck_after_panic']}", "0",
         result["stuck_after_panic"] == 0),
        ("stuck notes in what was sent (end / between songs)", f"{result['stuck_by_send']} / {show.left_sounding}",
         "0 / 0", result["stuck_by_send"] == 0 and show.left_sounding == 0),
        ("recording valid: drum notes in file / sent", f"{drums} / {stats.notes}", "equal", drums == stats.notes),
        ("recording: band notes in file / played", f"{band} / {show.band_ons}", "equal", band == show.band_ons),
        ("windows slower than their half-step budget (real time)", f"{show.over_budget} of {show.windows}",
         "info" + (", charged" if charge_compute else ""), None),
        ("recording flushes that failed, logged errors", f"{show.flush_errors}, {show.log.errors}", "0, 0",
         show.flush_errors == 0 and show.log.errors == 0),
    ]
    return result


def print_virtual(r: dict) -> bool:
    p50, p99, worst = r["step_ms"]
    print(f"livedrum soak on a virtual clock: a {r['hours']:.2f} h show, {r['songs']} songs "
          f"({r['starts']} starts of the drummer), {r['windows']} windows, {r['notes']} drum notes, "
          f"in {r['wall_s']:.0f} s of wall time")
    print(f"one window (hear + decide + plan, real time{', tracemalloc on' if r['traced'] else ''}): "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms; its cost "
          + ("charged to" if r["charged"] else "not charged to") + " the virtual clock")
    print("changes made: " + ", ".join(f"{k} {v}" for k, v in sorted(r["changes"].items()))
          + ("; refused: " + ", ".join(f"{k} {v}" for k, v in sorted(r["refused"].items())) if r["refused"] else ""))
    s2, end = r["rss"]["song 2"], r["rss"]["end"]
    print(f"memory at song 2: RSS {s2[0]:.1f} MB, traced {s2[1]:.2f} MB; at the end: RSS {end[0]:.1f} MB, "
          f"traced {end[1]:.2f} MB")
    return print_verdict(r)


# ---- the real daemon on JACK -------------------------------------------------------------------

BAND_CLIENT = "soak-band"
BAND_BPM = 120.0
STEP = 60.0 / BAND_BPM / STEPS_PER_BEAT


def band_client(to: str, seed: int = 0) -> None:
    """A band in a process of its own: the demo band part at 120 BPM, again and again, with pauses
    long enough for the drummer to stop; until SIGTERM. Writes its song starts and note count."""
    backend = mido.Backend(live_timing.JACK)
    port = backend.open_output("band", virtual=True, client_name=BAND_CLIENT)
    messages = band_messages(load_song(DEMO_BAND))
    channels = sorted({m.channel for _, m in messages})
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    rnd = random.Random(seed)
    starts: list[float] = []
    notes = 0
    time.sleep(2.0)  # the daemon looks for new inputs twice a second; a new connection loses its first cycles
    print("playing", flush=True)
    while not stop:
        clock = BeatClock(time.monotonic() + 0.5, BAND_BPM)
        starts.append(clock.origin)
        for beat, message in messages:
            if stop:
                break
            live_timing.wait_until(clock.time_of(beat))
            port.send(message)
            notes += message.type == "note_on" and message.velocity > 0
        pause_until = time.monotonic() + rnd.uniform(9.0, 15.0)  # > 2 silent bars: the drummer stops
        while not stop and time.monotonic() < pause_until:
            time.sleep(0.05)
    for ch in channels:
        port.send(mido.Message("control_change", channel=ch, control=123, value=0))
    time.sleep(0.1)
    port.close()
    Path(to).write_text(json.dumps({"starts": starts, "notes": notes}))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_log(path: Path) -> list[dict]:
    events = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            events.append(json.loads(line))
    return events


def wait_for_event(path: Path, event: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"livedrum run exited with {proc.returncode} before {event!r}")
        if path.exists() and any(e.get("event") == event for e in read_log(path)):
            return
        time.sleep(0.1)
    raise SystemExit(f"livedrum run did not log {event!r} within {timeout:g} s")


def count_processes(name: str) -> int:
    """How many processes on this machine have this command name."""
    count = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            count += comm.read_text().strip() == name
    return count


def drummer_playing(log: Path) -> bool:
    """Whether the daemon's last start or stop in its log was a start."""
    moves = [e["event"] for e in read_log(log) if e.get("event") in ("start", "stop")]
    return bool(moves) and moves[-1] == "start"


def stuck_notes(received: list[tuple[float, list[int]]]) -> Counter[tuple[int, int]]:
    """Notes that got a note-on and never a note-off (or all-notes-off on their channel)."""
    sounding: Counter[tuple[int, int]] = Counter()
    for _, m in received:
        kind, ch = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and len(m) > 2 and m[2] > 0:
            sounding[(ch, m[1])] += 1
        elif kind in (0x80, 0x90) and sounding[(ch, m[1])] > 0:
            sounding[(ch, m[1])] -= 1
        elif kind == 0xB0 and m[1] == 123:
            for key in [k for k in sounding if k[0] == ch]:
                sounding[key] = 0
    return +sounding


def timing_errors(received: list[tuple[float, list[int]]], origins: list[float]) -> tuple[np.ndarray, ...]:
    """Every drum note-on's arrival, song (index of the drummer's clock origin) and error against the
    nearest step of that clock's 12-step grid (humanize 0, swing 0: every note is planned on it)."""
    arrivals = np.array([t for t, m in received if m[0] == 0x90 | DRUM_CHANNEL and m[2] > 0])
    if not len(arrivals) or not origins:
        return arrivals, np.zeros(0, int), np.zeros(0)
    starts = np.array(origins)
    song = np.searchsorted(starts, arrivals, side="right") - 1
    keep = song >= 0
    arrivals, song = arrivals[keep], song[keep]
    steps = (arrivals - starts[song]) / STEP
    return arrivals, song, (steps - np.rint(steps)) * STEP


def ms_row(name: str, e: np.ndarray) -> str:
    a = np.abs(e) * 1000
    return (f"{name:<10} {len(e):>6} {np.percentile(a, 50):>8.3f} {np.percentile(a, 99):>8.3f} {a.max():>8.3f} "
            f"{e.mean() * 1000:>+9.3f} {np.sum(e > LATE_SECONDS):>7}")


def reference_errors(seconds: float) -> np.ndarray:
    """A plain sender through the same JACK server (sleep, then spin to each deadline), timed as the
    daemon is: the share of the error that is JACK's own (a message arrives at a cycle boundary)."""
    out = mido.Backend(live_timing.JACK).open_output("reference", virtual=True, client_name="soak-reference")
    rx = live_timing.Receiver("soak-reference")
    t0 = time.monotonic() + 0.2
    k = 0
    while k * 6 * STEP < seconds:
        t = t0 + k * 6 * STEP
        note = 36 if k % 4 == 0 else 38 if k % 2 == 0 else 42
        live_timing.wait_until(t)
        out.send(mido.Message("note_on", channel=DRUM_CHANNEL, note=note, velocity=100))
        live_timing.wait_until(t + 3 * STEP)
        out.send(mido.Message("note_off", channel=DRUM_CHANNEL, note=note))
        k += 1
    time.sleep(0.2)
    _, _, errors = timing_errors(rx.close(), [t0])
    out.close()
    return errors


def jack_soak(minutes: float, keep: Path | None = None, progress: bool = True, reference_s: float = 30.0,
              daemon_args: tuple[str, ...] = ()) -> dict:
    """The daemon on JACK for `minutes` with a band that comes and goes; SIGTERM while it plays. Everything
    measured is kept in the folder (run.json, received.json, the log and the recording): `analyse_jack`."""
    folder = Path(tempfile.mkdtemp(prefix="livedrum-soak-jack-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    log, record, errors, band_out = (folder / n for n in ("run.jsonl", "run.mid", "daemon-stderr.txt", "band.json"))
    jack = live_timing.start_jack()  # its own server name, in JACK_DEFAULT_SERVER for every child
    daemon = band = rx = None
    samples: list[tuple[float, float, float]] = []  # (seconds since the band began, RSS MB, CPU s)
    loads: list[float] = []
    other_jacks: list[int] = []  # JACK servers of other people on this machine: side by side, they interfere
    died: float | None = None  # seconds into the run when the daemon exited by itself
    try:
        reference = reference_errors(reference_s)
        with open(errors, "w") as err:
            daemon = subprocess.Popen(  # -X faulthandler: a crash leaves every thread's Python stack in its stderr
                [sys.executable, "-X", "faulthandler", "-m", "livedrum", "run", "--backend", "jack",
                 "--in", BAND_CLIENT, "--humanize", "0", "--log", str(log), "--record", str(record),
                 "--bpm", str(BAND_BPM), "--osc-port", str(free_udp_port()), "--no-ui", *daemon_args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        wait_for_event(log, "ready", daemon, 60.0)
        time.sleep(1.0)
        rx = live_timing.Receiver("livedrum:livedrum")
        band = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--band-client", str(band_out)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if band.stdout.readline().strip() != "playing":
            raise SystemExit("the band client did not start")
        began = time.monotonic()
        end = began + minutes * 60.0
        while True:
            now = time.monotonic()
            if daemon.poll() is not None:  # a finding: keep what was measured up to here
                died = now - began
                print(f"  livedrum run exited with {daemon.returncode} after {died / 60:.1f} min", flush=True)
                break
            samples.append((now - began, rss_mb(daemon.pid), live_timing.proc_cpu_seconds(daemon.pid)))
            loads.append(os.getloadavg()[0])  # other work on the machine shows in the timing
            other_jacks.append(count_processes("jackd") - 1)
            if progress and len(samples) % 6 == 1:
                print(f"  {samples[-1][0] / 60:5.1f} min: daemon RSS {samples[-1][1]:.1f} MB", flush=True)
            if now >= end:
                break
            time.sleep(min(10.0, max(0.0, end - now)))
        until = time.monotonic() + 60.0  # end in the middle of a song: the drummer playing, notes sounding
        while died is None and not drummer_playing(log) and time.monotonic() < until:
            time.sleep(0.2)
        time.sleep(0.0 if died is not None else 2.0)
        band.send_signal(signal.SIGTERM)  # the band first, so that the recording holds all it sent,
        band.wait(timeout=30)
        stopped_at = time.monotonic() if died is None else began + died
        if died is None:
            daemon.send_signal(signal.SIGTERM)  # then the drummer at once, still playing: everything sounding must end
        exit_code = daemon.wait(timeout=30)
        time.sleep(0.5)  # the last note-offs on their way to the receiver
        received = rx.close()
        rx = None
        (folder / "received.json").write_text(json.dumps(received))  # (arrival, bytes) of everything the daemon sent
        (folder / "run.json").write_text(json.dumps({
            "began": began, "stopped_at": stopped_at, "died": died, "exit_code": exit_code, "samples": samples,
            "loads": loads, "other_jacks": other_jacks, "reference": reference.tolist(), "cpus": os.cpu_count(),
            "jack_realtime": jack.args[1] == "-R"}))
    finally:
        for proc in (band, daemon):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if rx is not None:
            rx.proc.kill()
        jack.terminate()
        jack.wait(timeout=10)
    return analyse_jack(folder)


def analyse_jack(folder: Path) -> dict:
    """The figures and goals of a JACK soak from the files it left in `folder`."""
    run = json.loads((folder / "run.json").read_text())
    received = [(t, m) for t, m in json.loads((folder / "received.json").read_text())]
    began, stopped_at, died, exit_code = run["began"], run["stopped_at"], run["died"], run["exit_code"]
    samples, reference = run["samples"], np.array(run["reference"])
    events = read_log(folder / "run.jsonl")
    origins = [float(e["origin"]) for e in events if e.get("event") == "start"]
    final = next((e for e in reversed(events) if e.get("event") == "stopped"), {})
    arrivals, song, errors_s = timing_errors(received, origins)
    band_out = folder / "band.json"
    band_info = json.loads(band_out.read_text()) if band_out.exists() else {"starts": [], "notes": 0}
    record = folder / "run.mid"
    try:
        drums, band_notes = count_recording(record)
        valid = True
    except Exception as exc:  # an invalid file is a finding, not a crash of the soak
        drums = band_notes = -1
        valid = False
        print(f"recording {record} is not valid MIDI: {exc}")
    minute1 = next(s for s in samples if s[0] >= 60.0) if samples[-1][0] >= 60.0 else samples[0]
    last = samples[-1]
    first_min = errors_s[arrivals < began + 60.0]
    last_min = errors_s[arrivals >= stopped_at - 60.0]
    minute = ((arrivals - began) // 60.0).astype(int)
    per_minute = [(float(np.median(errors_s[minute == m])), float(errors_s[minute == m].mean()),
                   float(np.percentile(errors_s[minute == m], 1)), float(np.percentile(errors_s[minute == m], 99)))
                  for m in range(int(minute.max()) + 1 if len(minute) else 0) if np.any(minute == m)]
    means = np.array([m for _, m, _, _ in per_minute])
    slope = np.polyfit(np.arange(len(means)) / 60.0, means * 1000, 1)[0] if len(means) > 2 else float("nan")
    stuck = stuck_notes(received)
    late_arrivals = int(np.sum(errors_s > LATE_SECONDS))
    late_beyond_period = int(np.sum(errors_s > LATE_SECONDS + JACK_PERIOD_S))
    both = len(first_min) > 0 and len(last_min) > 0
    drift = abs(last_min.mean() - first_min.mean()) if both else float("nan")
    floor1, floor2 = (np.percentile(first_min, 1), np.percentile(last_min, 1)) if both else (math.nan, math.nan)
    # the fitted line through the per-minute means, from the start of the run to its end
    trend_ms = slope * (stopped_at - began) / 3600.0 if len(means) > 2 else math.nan
    p1s = [p1 * 1000 for _, _, p1, _ in per_minute] or [math.nan]
    p1_low, p1_high = min(p1s), max(p1s)
    log_late = final.get("late")
    cpu = (last[2] - samples[0][2]) / max(last[0] - samples[0][0], 1e-9)
    stderr = (folder / "daemon-stderr.txt").read_text(errors="replace").splitlines()
    r = {
        "minutes": (stopped_at - began) / 60.0, "exit_code": exit_code, "songs": len(origins),
        "band_songs": len(band_info["starts"]), "samples": samples, "rss_minute1": minute1, "rss_end": last,
        "rss_growth": last[1] - minute1[1], "arrivals": arrivals, "song": song, "errors": errors_s,
        "first_min": first_min, "last_min": last_min, "drift": drift, "slope_ms_per_h": slope,
        "per_minute": per_minute, "late_log": log_late, "notes_log": final.get("notes"),
        "late_arrivals": late_arrivals, "late_beyond_period": late_beyond_period, "stuck": stuck,
        "recorded_drums": drums, "recorded_band": band_notes, "band_notes": band_info["notes"], "valid": valid,
        "cpu": cpu, "cpus": run["cpus"], "received": len(received), "folder": str(folder), "reference": reference,
        "load": (float(np.mean(run["loads"])), max(run["loads"])), "other_jacks": max(run["other_jacks"], default=0),
        "jack_realtime": run.get("jack_realtime", False),
        "died": died, "stderr_tail": stderr[-40:] if died is not None else [],
        "log_errors": [e.get("line") for e in events if e.get("event") in ("error", "watchdog")],
    }
    received_ons = int(sum(m[0] == 0x90 | DRUM_CHANNEL and m[2] > 0 for _, m in received))
    expected = final.get("notes", received_ons)  # without its 'stopped' line: the note-ons that arrived
    r["goals"] = [
        ("daemon ran until SIGTERM", "yes" if died is None else f"exit {exit_code} at {died / 60:.1f} min", "yes",
         died is None),
        ("daemon RSS, minute 1 -> end", f"{minute1[1]:.1f} -> {last[1]:.1f} MB ({r['rss_growth']:+.2f})",
         f"< {MEMORY_GOAL_MB:g} MB growth", r["rss_growth"] < MEMORY_GOAL_MB),
        ("late notes (the daemon's own count, 'stopped' line)", f"{log_late}", "0", log_late == 0),
        ("note-ons arriving > 1 ms after the grid (plain sender)",
         f"{late_arrivals / max(len(errors_s), 1):.1%} ({np.mean(reference > LATE_SECONDS):.1%})", "info: JACK's own",
         None),
        ("note-ons arriving > 1 ms + one JACK period late", f"{late_beyond_period}", "0", late_beyond_period == 0),
        ("drift: mean error, first minute -> last minute",
         f"{first_min.mean() * 1000:+.3f} -> {last_min.mean() * 1000:+.3f} ms" if both else "n/a",
         f"moves < {JACK_DRIFT_GOAL_S * 1000:.3f} ms", drift < JACK_DRIFT_GOAL_S),
        ("drift: trend of the per-minute means over the run", f"{trend_ms:+.3f} ms" if trend_ms == trend_ms else "n/a",
         f"moves < {TREND_GOAL_MS:g} ms", abs(trend_ms) < TREND_GOAL_MS),
        ("p1 of the error, first minute -> last minute (range over minutes)",
         f"{floor1 * 1000:+.3f} -> {floor2 * 1000:+.3f} ms ({p1_low:+.3f} .. {p1_high:+.3f})" if both else "n/a",
         "info: JACK's cycle", None),
        ("stuck notes after SIGTERM (note-on, no off/CC 123)", f"{sum(stuck.values())}", "0", not stuck),
        ("daemon exit status after SIGTERM", f"{exit_code}", "0", exit_code == 0),
        ("recording valid: drum notes in file / " + ("'stopped' count" if final else "received"),
         f"{drums} / {expected}", "equal", valid and drums == expected),
        ("recording: band note-ons heard / sent (JACK input)", f"{band_notes} / {band_info['notes']}",
         "info", None),
    ]
    return r


def print_jack(r: dict) -> bool:
    scheduling = "realtime" if r["jack_realtime"] else "not realtime"
    print(f"livedrum soak on JACK (dummy driver, {scheduling}, 48 kHz, 64-frame periods, {r['cpus']} CPU cores): "
          f"{r['minutes']:.1f} min, {r['band_songs']} band songs, {r['songs']} drummer starts, "
          f"{len(r['errors'])} drum notes timed, daemon CPU {r['cpu'] * 100:.2f} % of one core; "
          f"machine load average {r['load'][0]:.2f} (max {r['load'][1]:.2f}), other JACK servers running: "
          f"up to {r['other_jacks']}")
    print("RSS (MB) every minute: " + " ".join(f"{s[1]:.1f}" for s in r["samples"][::6]))
    print("timing error of drum note-ons against the drummer's grid (arrival - planned), per song:")
    print(f"{'song':<10} {'notes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>9} {'>1 ms':>7}")
    for k in range(int(r["song"].max()) + 1 if len(r["song"]) else 0):
        e = r["errors"][r["song"] == k]
        if len(e):
            print(ms_row(str(k + 1), e))
    if len(r["errors"]):
        print(ms_row("all", r["errors"]))
        if len(r["reference"]):
            print(ms_row("plain snd", r["reference"]) + "   <- a plain sender through the same JACK, before the run")
        print(ms_row("minute 1", r["first_min"]) if len(r["first_min"]) else "minute 1: no notes")
        print(ms_row("last min", r["last_min"]) if len(r["last_min"]) else "last minute: no notes")
    for k, name in enumerate(("median", "mean", "p1", "p99")):
        print(f"{name + ' error per minute (ms):':<30}" + " ".join(f"{m[k] * 1000:+.3f}" for m in r["per_minute"]))
    print(f"trend of the per-minute means: {r['slope_ms_per_h']:+.4f} ms per hour")
    if r["log_errors"]:
        print("the daemon logged: " + "; ".join(map(str, r["log_errors"][:10])))
    if r["died"] is not None:
        print(f"the daemon died {r['died'] / 60:.1f} min in (exit {r['exit_code']}); the end of its stderr:")
        print("\n".join("    " + line for line in r["stderr_tail"]))
    return print_verdict(r)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--virtual", type=float, nargs="?", const=3.0, default=None, metavar="HOURS",
                    help="a show of this many hours on a virtual clock (default 3)")
    ap.add_argument("--jack", type=float, nargs="?", const=15.0, default=None, metavar="MINUTES",
                    help="the real daemon on JACK for this many minutes (default 15)")
    ap.add_argument("--seed", type=int, default=0, help="setlist, tempos and changes")
    ap.add_argument("--no-tracemalloc", action="store_true", help="virtual: skip tracemalloc (faster)")
    ap.add_argument("--charge", action="store_true",
                    help="virtual: add each window's real compute time to the virtual clock (late if slow)")
    ap.add_argument("--keep", type=Path, default=None, metavar="DIR", help="write the logs and recordings here")
    ap.add_argument("--priority", default="normal", choices=("normal", "high", "realtime"),
                    help="JACK: the daemon's --priority")
    ap.add_argument("--analyse", type=Path, default=None, metavar="DIR",
                    help="print the figures of a finished JACK soak again from its files (DIR holds run.json)")
    ap.add_argument("--band-client", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.band_client:
        band_client(args.band_client)
        return 0
    if args.analyse is not None:
        return 0 if print_jack(analyse_jack(args.analyse)) else 1
    if args.virtual is None and args.jack is None:
        args.virtual = 3.0
    ok = True
    if args.virtual is not None:
        keep = None if args.keep is None else args.keep / "virtual"
        ok &= print_virtual(virtual_soak(args.virtual, args.seed, not args.no_tracemalloc, args.charge,
                                         keep=keep))
    if args.jack is not None:
        keep = None if args.keep is None else args.keep / "jack"
        ok &= print_jack(jack_soak(args.jack, keep, daemon_args=("--priority", args.priority)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
