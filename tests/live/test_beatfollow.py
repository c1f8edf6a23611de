"""`--clock follow`: the band's tempo followed from its onsets, through an accelerando and a
ritardando, held when the band goes sparse; and the live drummer playing along in real time."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from livedrum.live.beatfollow import OnsetFollower
from livedrum.live.drummer import Drummer, RunConfig
from livedrum.live.scheduler import Scheduler
from livedrum.live.sources import band_messages, replay
from livedrum.midifile import load_song
from tests.conftest import write_band_song
from tests.live.live_helpers import shipped_engine


class RampClock:
    """A band's time: `tempo(beat)` BPM, beat 0 at `origin` (what `replay` needs: time_of)."""

    def __init__(self, origin: float, tempo) -> None:  # noqa: ANN001
        self.origin, self.tempo = origin, tempo
        beats = np.arange(0, 400, 1 / 48)
        seconds = np.concatenate([[0.0], np.cumsum(60.0 / np.array([tempo(b) for b in beats[:-1]]) / 48)])
        self._beats, self._seconds = beats, seconds

    def time_of(self, beat: float) -> float:
        return self.origin + float(np.interp(beat, self._beats, self._seconds))

    def beat_at(self, t: float) -> float:
        return float(np.interp(t - self.origin, self._seconds, self._beats))


def up_and_down(beat: float) -> float:
    """100 BPM for two bars, up to 125 over four, back to 100 over four."""
    if beat < 8:
        return 100.0
    if beat < 24:
        return 100.0 + 25.0 * (beat - 8) / 16
    return max(100.0, 125.0 - 25.0 * (beat - 24) / 16)


def onsets_of(clock: RampClock, beats: float, rng: np.random.Generator, spread: float = 0.008) -> list[float]:
    """A band's onsets: every beat, most eighths, a few sixteenth pickups, human timing."""
    out = []
    for k in range(int(beats * 4)):
        x = k / 4
        if x == int(x) or (x % 0.5 == 0 and rng.random() < 0.7) or rng.random() < 0.15:
            out.append(clock.time_of(x) + rng.normal(0, spread))
    return sorted(out)


def test_follows_an_accelerando_and_a_ritardando_from_onsets_alone() -> None:
    rng = np.random.default_rng(0)
    clock = RampClock(10.0, up_and_down)
    f = OnsetFollower(100.0)
    onsets = onsets_of(clock, 40, rng)
    f.begin(onsets[0], 100.0, 0.0)
    errors = []
    for b in range(2, 39):
        now = clock.time_of(b - 0.05)
        for t in [t for t in onsets if t <= now]:
            f.onset(t, 0.8)
        onsets = [t for t in onsets if t > now]
        grid = f.grid(now)
        errors.append((grid.bpm / up_and_down(b) - 1, grid.time_of(b + 1) - clock.time_of(b + 1)))
    tempo = np.array([e[0] for e in errors[6:]])  # from bar 3 on
    phase = np.array([e[1] for e in errors[6:]])
    # onsets spread 8 ms, two or three a beat: a beat or two of lag and some noise is the price
    assert np.median(np.abs(tempo)) < 0.025 and np.max(np.abs(tempo)) < 0.07
    assert np.median(np.abs(phase)) < 0.020 and np.max(np.abs(phase)) < 0.080


def test_a_sparse_band_holds_the_tempo_and_a_pause_does_not_lose_the_beat() -> None:
    clock = RampClock(0.0, lambda b: 110.0)
    f = OnsetFollower(110.0)
    f.begin(0.0, 110.0, 0.0)
    for b in range(1, 12):
        f.onset(clock.time_of(b), 1.0)
    grid = f.grid(clock.time_of(11.5))
    assert grid.bpm == pytest.approx(110.0, rel=0.005)
    for b in (16, 26):  # one note every couple of bars
        f.onset(clock.time_of(b) + 0.004, 0.5)
        later = f.grid(clock.time_of(b + 0.5))
        assert later.bpm == pytest.approx(110.0, rel=0.01)
        assert later.time_of(b + 4) == pytest.approx(clock.time_of(b + 4), abs=0.020)


def test_stray_onsets_between_the_eighths_are_left_out() -> None:
    clock = RampClock(0.0, lambda b: 120.0)
    f = OnsetFollower(120.0)
    f.begin(0.0, 120.0, 0.0)
    for b in range(1, 16):
        f.onset(clock.time_of(b), 1.0)
        f.onset(clock.time_of(b + 0.3), 1.0)  # a grace note, between two eighths
        f.onset(float("nan"), 1.0)
    grid = f.grid(clock.time_of(15.5))
    assert grid.bpm == pytest.approx(120.0, rel=0.003)


def test_a_tempo_set_by_the_musician_overrides_what_was_followed() -> None:
    f = OnsetFollower(100.0)
    f.begin(0.0, 100.0, 0.0)
    f.request_tempo(140.0)
    assert f.grid(0.1).bpm == 140.0
    with pytest.raises(ValueError):
        f.request_tempo(1000.0)


def test_the_live_drummer_follows_a_band_that_speeds_up_and_slows_down(tmp_path) -> None:  # noqa: ANN001
    band = load_song(write_band_song(tmp_path / "band.mid", bars=10, bpm=100.0, drums=False, seed=3))
    cfg = RunConfig(bpm=100.0, mode="follow", stop_bars=1)
    sent: list[tuple[float, int]] = []

    async def main() -> RampClock:
        scheduler = Scheduler(lambda m: None)
        drummer = Drummer(shipped_engine(seed=1, humanize=0.0), cfg, scheduler)
        plan = drummer.plan

        def planned(notes: list) -> None:
            # every note decided, at the time the followed clock gives it: also those a loaded machine
            # decided too late to send (dropped, never late; lateness is the benchmarks' concern)
            assert drummer.clock is not None
            sent.extend((drummer.clock.time_of(n.start), n.note) for n in notes if n.velocity > 0)
            plan(notes)

        drummer.plan = planned  # type: ignore[method-assign]
        follower = OnsetFollower(cfg.bpm)
        drummer.sync = follower
        drummer.on_band.append(follower.hear)
        tasks = [asyncio.ensure_future(scheduler.run()), asyncio.ensure_future(drummer.run())]
        clock = RampClock(time.monotonic() + 0.1, up_and_down)
        try:
            await replay(band_messages(band), clock, drummer.hear)  # type: ignore[arg-type]
            await asyncio.sleep(0.5)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            scheduler.panic()
        return clock

    clock = asyncio.run(main())
    times = np.array([t for t, _ in sent])
    beats = np.array([clock.beat_at(t) for t in times])
    steps = np.rint(beats * 12) / 12
    assert len(times) > 60
    # bar by bar from bar 3 on, the drums' tempo (a line through their times against the band's beats)
    for bar in range(2, 10):
        inside = (steps >= 4 * bar) & (steps < 4 * bar + 4)
        assert inside.sum() >= 4, bar
        drums_bpm = 60.0 / np.polyfit(steps[inside], times[inside], 1)[0]
        band_bpm = up_and_down(4 * bar + 2)
        assert abs(drums_bpm / band_bpm - 1) < 0.04, (bar, drums_bpm, band_bpm)
    # and on the band's beat
    late = steps >= 8
    phase = (beats[late] - steps[late]) * 60.0 / np.array([up_and_down(b) for b in steps[late]])
    assert np.median(np.abs(phase)) < 0.012, phase
