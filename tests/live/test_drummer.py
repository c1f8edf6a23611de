"""The live drummer in real time with the shipped model: follow and lead, the grid, the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import mido
import numpy as np
import pytest

from livedrum.live.drummer import DECIDE_AHEAD_BEATS, Drummer, RunConfig
from livedrum.live.scheduler import Scheduler
from tests.conftest import write_band_song
from tests.live.live_helpers import play_along, shipped_engine

BPM = 240.0  # short tests: a beat is a quarter of a second


@pytest.fixture(scope="module")
def short_song(tmp_path_factory):  # noqa: ANN001, ANN201
    return write_band_song(tmp_path_factory.mktemp("live") / "short.mid", bars=3, bpm=BPM, drums=False)


def _note_ons(sent):  # noqa: ANN001, ANN202
    """(planned time, message) of every note-on sent."""
    return [(t, m) for t, _, m in sent if m.type == "note_on" and m.velocity > 0]


def _every_note_ended(sent) -> bool:  # noqa: ANN001
    count: Counter = Counter()
    for _, _, m in sent:
        if m.type == "note_on" and m.velocity > 0:
            count[(m.channel, m.note)] += 1
        elif m.type in ("note_on", "note_off"):
            count[(m.channel, m.note)] -= 1
    return all(v == 0 for v in count.values())


def test_follow_comes_in_on_the_grid_and_stops_with_an_ending(short_song) -> None:  # noqa: ANN001
    cfg = RunConfig(bpm=BPM, mode="follow", stop_bars=1, ending=True)
    sent, drummer, band_clock = play_along(short_song, cfg, shipped_engine(), tail_seconds=2.5)
    ons = _note_ons(sent)
    assert len(ons) > 12
    clock = drummer.clock
    spb = 60.0 / BPM
    assert abs(clock.origin - band_clock.origin) < 0.005  # beat 0 is the band's first note
    beats = np.array([clock.beat_at(t) for t, _ in ons])
    assert beats.min() >= 1.0 - 0.004 / spb  # drums come in on the next beat
    steps = beats * 12
    assert np.abs(steps - np.rint(steps)).max() < 1e-6  # planned exactly on the 12-step grid (humanize 0)
    lateness = np.array([sent_t - planned for planned, sent_t, _ in sent])
    assert np.median(lateness) < 0.002  # and sent then (timing figures: benchmarks/live_timing.py)
    # the band's last onset is in bar 3; one silent bar later the drums end on a downbeat crash
    assert not drummer.playing and drummer.status().state == "waiting"
    last_beat = beats.max()
    assert last_beat == pytest.approx(round(last_beat), abs=0.02) and round(last_beat) % 4 == 0
    assert {m.note for t, m in ons if clock.beat_at(t) > last_beat - 0.01} == {36, 49}
    assert _every_note_ended(sent)


def test_lead_keeps_time_with_no_band() -> None:
    cfg = RunConfig(bpm=BPM, mode="lead", lead_in=0.1)
    sent, drummer, _ = play_along(None, cfg, shipped_engine(), tail_seconds=2.1)
    beats = np.array([drummer.clock.beat_at(t) for t, _ in _note_ons(sent)])
    assert drummer.playing
    assert len(set(np.floor(beats + 0.01).astype(int))) >= 6  # it plays on most beats of 2 bars
    assert _every_note_ended(sent)


def test_same_seed_same_drums(short_song) -> None:  # noqa: ANN001
    def drums(seed: int) -> list[tuple[int, bytes]]:
        cfg = RunConfig(bpm=BPM, mode="follow", stop_bars=1, ending=False)
        engine = shipped_engine(seed=seed)
        engine.sampling = engine.sampling.with_(complexity=0.8)
        decided: list[tuple[int, bytes]] = []
        original = engine.play

        def play(position, bar_beats):  # noqa: ANN001, ANN202
            window = original(position, bar_beats)
            decided.append((window.beat, window.hits.tobytes()))
            return window

        engine.play = play
        play_along(short_song, cfg, engine, tail_seconds=1.2)
        return decided

    first = drums(3)
    assert len(first) >= 12
    assert first == drums(3)  # what is decided does not depend on how busy the machine is
    assert first != drums(4)


def test_tap_notes_set_the_tempo_and_are_not_band_notes() -> None:
    import mido

    from livedrum.live.drummer import Drummer
    from livedrum.live.scheduler import Scheduler

    drummer = Drummer(shipped_engine(), RunConfig(bpm=120.0, tap_note=60), Scheduler(lambda m: None))
    tap = mido.Message("note_on", channel=0, note=60, velocity=100)
    for i in range(4):
        drummer.hear(10.0 + 0.4 * i, tap)  # 150 BPM
    assert drummer.cfg.bpm == pytest.approx(150.0)
    assert not drummer.playing and drummer.band.last_onset is None  # taps do not start the song
    drummer.hear(12.0, mido.Message("note_on", channel=0, note=64, velocity=100))
    assert drummer.playing and drummer.clock.bpm == pytest.approx(150.0)


def test_a_window_is_not_decided_right_before_a_note() -> None:
    """Deciding holds the event loop for a few milliseconds; a note due then would go out late.
    The drummer waits until that note has gone."""
    events: list[tuple[str, int]] = []

    async def main() -> None:
        scheduler = Scheduler(lambda m: None)
        scheduler.listeners.append(
            lambda planned, m: events.append(("note", m.note)) if m.type == "note_on" and m.note == 99 else None)
        drummer = Drummer(shipped_engine(), RunConfig(bpm=120.0, mode="lead", lead_in=0.3), scheduler)
        real_step = drummer.step

        def step(b: int) -> None:
            events.append(("step", b))
            real_step(b)

        drummer.step = step  # type: ignore[method-assign]
        tasks = [asyncio.ensure_future(scheduler.run()), asyncio.ensure_future(drummer.run())]
        await asyncio.sleep(0)
        assert drummer.clock is not None
        decide = drummer.clock.time_of(2 - DECIDE_AHEAD_BEATS)
        scheduler.plan(decide + 0.006, mido.Message("note_on", channel=15, note=99, velocity=1))
        await asyncio.sleep(decide + 0.1 - time.monotonic())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        scheduler.panic()

    asyncio.run(main())
    assert ("step", 2) in events and ("note", 99) in events
    assert events.index(("note", 99)) < events.index(("step", 2))
