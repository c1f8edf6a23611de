"""`livedrum demo`: the live drummer with no MIDI gear, against a band part played in real time.

The band part is replayed on the drummer's own clock through the same `hear` a live port uses;
the drums go through the real scheduler to a virtual MIDI port when the machine has a MIDI
system (with the band, so that one synth plays the whole song), to the live view, and into a
MIDI file written while playing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import mido

from livedrum.kits import load_kit
from livedrum.live.cli import SWITCH_INTERVAL, make_engine, run_config
from livedrum.live.drummer import Drummer
from livedrum.live.logs import EventLog
from livedrum.live.recorder import Recorder
from livedrum.live.scheduler import Scheduler
from livedrum.live.session import RecordingTap, Session
from livedrum.live.sources import band_messages, replay
from livedrum.midifile import load_song


def _try_output(args: argparse.Namespace, log: EventLog):  # noqa: ANN202
    if args.no_port:
        return None
    from livedrum.live.ports import midi_backend, open_output

    try:
        return open_output(midi_backend(args.backend), args.out)
    except (OSError, ValueError) as exc:
        log("warning", line=f"no MIDI output ({exc}); showing and recording only")
        return None


def play_demo(args: argparse.Namespace, default_band: Path) -> int:
    if args.bars < 0:
        raise ValueError(f"--bars must be 0 (all) or more, got {args.bars}")
    path = Path(args.band) if args.band else default_band
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    song = load_song(data, path.name)
    if len(song.band) == 0:
        raise ValueError(f"{path.name} has no band notes to play")
    bpm = round(float(song.bpm_at(0.0)), 3)
    sig = song.time_signatures[0] if song.time_signatures else None
    beats_per_bar = max(2, round(sig.bar_beats)) if sig else 4
    cfg = run_config(args, bpm, beats_per_bar, "lead")
    kit = load_kit(args.kit)
    sys.setswitchinterval(SWITCH_INTERVAL)
    log = EventLog(args.log, quiet=args.quiet)
    recorder = Recorder(args.output, bpm)
    engine = make_engine(args)
    out = _try_output(args, log)
    sends = [out.send] if out is not None else []

    def send(message: mido.Message) -> None:
        for s in sends:
            s(message)

    try:
        scheduler = Scheduler(send, on_error=lambda line: log("error", line=line))
        drummer = Drummer(engine, cfg, scheduler, log)
        drummer.kit = kit
        engine.lead = False  # the band starts with the drummer's first beat: play it as `accompany` does
        drummer.start(time.monotonic() + cfg.lead_in, play_first=False)
        assert drummer.clock is not None
        recording = RecordingTap(recorder, bpm, drummer.clock.origin)
        session = Session(drummer, scheduler, log, recording)
        messages = band_messages(song)
        end_beat = messages[-1][0] if messages else 0.0
        if args.bars > 0:
            end_beat = min(end_beat, args.bars * beats_per_bar)

        def deliver(t: float, message: mido.Message) -> None:
            session.hear_now(t, message)
            send(message)

        async def band_then_last_bar() -> None:
            await replay(messages, drummer.clock, deliver, stop_beat=end_beat)
            for ch in sorted({m.channel for _, m in messages}):  # band notes cut by --bars end too
                deliver(time.monotonic(), mido.Message("control_change", channel=ch, control=123))
            last = drummer.clock.time_of(float(int(end_beat) + 1))
            await asyncio.sleep(max(0.0, last - time.monotonic()))

        extra = []
        if sys.stdout.isatty() and not args.quiet:
            from livedrum.live.view import LiveView

            extra.append(LiveView(drummer).run())
        else:
            print(f"livedrum demo: {path.name}, {bpm:g} BPM, {end_beat / beats_per_bar:.0f} bars, in real time",
                  flush=True)
        status = asyncio.run(session.run(*extra, until=band_then_last_bar()))
        s = drummer.status()
        print(f"wrote {args.output}: band and {s.notes} drum notes; {s.late} late", flush=True)
        return status
    finally:
        if out is not None:
            out.close()
        log.close()
