"""Helpers for live tests: the shipped model's engine, and a drummer playing along in real time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import mido

from livedrum.checkpoint import load_model
from livedrum.cli import default_model_path
from livedrum.engine import Engine
from livedrum.live.clock import BeatClock
from livedrum.live.drummer import Drummer, RunConfig
from livedrum.live.scheduler import Scheduler
from livedrum.live.sources import band_messages, replay
from livedrum.midifile import load_song
from livedrum.sampler import Sampling


def shipped_engine(seed: int = 0, humanize: float = 0.0) -> Engine:
    net, ckpt = load_model(default_model_path(), "cpu")
    cal = ckpt.get("sampling", {})
    sampling = Sampling(complexity=cal.get("complexity", 0.5), bias=cal.get("bias", 0.0),
                        piece_bias=tuple(cal.get("piece_bias", {}).items()), groove=cal.get("groove", "none"),
                        humanize=humanize)
    return Engine(net, sampling, seed)


def play_along(song_path: Path | None, cfg: RunConfig, engine: Engine, tail_seconds: float,
               lead_in: float = 0.1) -> tuple[list[tuple[float, float, mido.Message]], Drummer, BeatClock | None]:
    """Replay a band part (or nothing) to a drummer in real time; every message it sends as
    (planned time, sent time, message)."""
    sent: list[tuple[float, float, mido.Message]] = []
    band_clock = None

    async def main() -> Drummer:
        scheduler = Scheduler(lambda m: None)
        scheduler.listeners.append(lambda planned, m: sent.append((planned, time.monotonic(), m)))
        drummer = Drummer(engine, cfg, scheduler)
        tasks = [asyncio.ensure_future(scheduler.run()), asyncio.ensure_future(drummer.run())]
        try:
            if song_path is not None:
                nonlocal band_clock
                song = load_song(song_path)
                band_clock = BeatClock(time.monotonic() + lead_in, song.bpm_at(0.0))
                await replay(band_messages(song), band_clock, drummer.hear)
            await asyncio.sleep(tail_seconds)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            scheduler.panic()
        return drummer

    drummer = asyncio.run(main())
    return sent, drummer, band_clock
