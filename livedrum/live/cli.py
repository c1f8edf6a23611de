"""The live subcommands: `livedrum run` (the daemon), `livedrum demo`, `livedrum ports`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

DEMO_BAND = Path(__file__).resolve().parent.parent / "data" / "demo-band.mid"
# JACK runs our input callback inside its process cycle, one event at a time: when another thread
# holds the GIL for longer than a cycle, the rest of a chord is lost. Hand the GIL over sooner.
SWITCH_INTERVAL = 0.0005
PORT_SCAN_GAP = 0.025  # seconds: ports are scanned (hot-plug) when no note is due this soon
DEFAULT_BPM = 120.0


def _parser(sub: argparse._SubParsersAction, name: str, help_: str, epilog: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_, description=help_, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=None, choices=("alsa", "jack", "coremidi", "windows"),
                   help="MIDI system (default: the platform's usual one)")


def _feel_options(p: argparse.ArgumentParser) -> None:
    from livedrum.commands import feel_options

    feel_options(p)
    p.add_argument("--kit", default="gm", metavar="NAME",
                   help="kit map from presets/kits (gm, superior-drummer-3, ezdrummer-3, addictive-drums-2, "
                        "ableton-drum-rack, roland-tr-8s) or a .toml path")
    p.add_argument("--record", default=None, metavar="FILE.mid",
                   help="band in and drums out, written while playing")
    p.add_argument("--log", default=None, metavar="FILE.jsonl", help="structured log, one JSON object per line")
    p.add_argument("--quiet", action="store_true", help="no live view, only errors")


# ---- ports -------------------------------------------------------------------------------

def add_ports(sub: argparse._SubParsersAction, epilog: str) -> None:
    p = _parser(sub, "ports", "list the MIDI input and output ports", epilog)
    _backend_option(p)
    p.set_defaults(func=run_ports)


def run_ports(args: argparse.Namespace) -> int:
    from livedrum.audio.source import list_devices
    from livedrum.live.ports import describe, list_ports, midi_backend

    backend = midi_backend(args.backend)  # a bad --backend is the user's error: one line, exit 1
    listed = 0
    try:
        print(describe(list_ports(backend)))
        listed += 1
    except OSError as exc:  # no MIDI system here: said in one line, the audio devices still listed
        print(f"MIDI ports: none, {exc}")
    try:
        devices = list_devices()
    except OSError as exc:  # no PortAudio: MIDI still listed, audio said in one line
        print(f"audio devices: none ({exc})")
    else:
        listed += 1
        print("audio devices (livedrum run --audio-in NAME|INDEX):" if devices else "audio devices: none")
        if devices:
            print("\n".join(devices))
    return 0 if listed else 1


# ---- run ---------------------------------------------------------------------------------

def add_run(sub: argparse._SubParsersAction, epilog: str) -> None:
    from livedrum.commands import _model_options

    p = _parser(sub, "run", "play live: listen to MIDI input ports, drum to a MIDI output port", epilog)
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="PORT",
                   help="input ports whose name contains this (repeatable; default: every input)")
    from livedrum.live.audio_options import add_audio_options

    add_audio_options(p)
    p.add_argument("--out", default="livedrum", metavar="NAME", help="name of the virtual output port")
    p.add_argument("--connect", default=None, metavar="PORT",
                   help="send to an existing output port (name substring) instead of a virtual one")
    _backend_option(p)
    p.add_argument("--bpm", type=float, default=None,
                   help="tempo, default 120 (follow mode: until taps change it; with --audio-in and no --bpm: "
                        "the tempo found in the audio)")
    p.add_argument("--clock", default="internal", choices=("internal", "tap", "midi", "link", "follow"),
                   help="internal: --bpm; tap: --tap-note/--tap-cc set the tempo; midi: follow MIDI clock, start, "
                        "stop and song position from the inputs; link: an Ableton Link session (needs aalink); "
                        "follow: the band's tempo from its onsets, starting at --bpm")
    p.add_argument("--mode", default="follow", choices=("follow", "lead"),
                   help="follow: come in with the band, stop when it stops; lead: keep time from start")
    p.add_argument("--beats-per-bar", type=int, default=4)
    p.add_argument("--stop-bars", type=int, default=2, help="follow mode: silent bars before the drums stop")
    p.add_argument("--no-ending", action="store_true", help="follow mode: no crash on the final downbeat")
    p.add_argument("--tap-note", type=int, default=None, help="MIDI note that taps the tempo")
    p.add_argument("--tap-cc", type=int, default=None, help="MIDI controller that taps the tempo")
    p.add_argument("--clock-out", action="store_true",
                   help="send MIDI clock (24 per beat) with start and stop on the output, for sequencers")
    p.add_argument("--controls", default="beatbuddy", metavar="NAME",
                   help="MIDI control map from presets/controls (or a .toml path; none: off)")
    p.add_argument("--osc-port", type=int, default=9000, help="UDP port for OSC control")
    p.add_argument("--osc-host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0 for a phone on the LAN)")
    p.add_argument("--osc-allow", default="", metavar="ADDR,...",
                   help="only these senders (IP addresses or networks; localhost always)")
    p.add_argument("--osc-reply", action="append", default=[], metavar="HOST:PORT",
                   help="also send feedback here (TouchOSC's receive port), repeatable")
    p.add_argument("--no-osc", action="store_true", help="no OSC server")
    from livedrum.web.options import add_ui_options

    add_ui_options(p)
    p.add_argument("--priority", default="normal", choices=("normal", "high", "realtime"),
                   help="ask the OS to run the drummer ahead of other work: high (nice -10) or realtime "
                        "(SCHED_FIFO, below JACK); refused without the privilege, then normal")
    _feel_options(p)
    _model_options(p)
    p.set_defaults(func=run_live)


def make_engine(args: argparse.Namespace):  # noqa: ANN201
    """The streaming engine the model options describe, warmed up (first calls are slow)."""
    import numpy as np

    from livedrum.commands import make_drummer
    from livedrum.engine import Engine
    from livedrum.features import BAND_FEATURES, POSITION_FEATURES
    from livedrum.grid import STEPS_PER_BEAT
    from livedrum.perform import ModelDrummer

    drummer = make_drummer(args)
    if not isinstance(drummer, ModelDrummer):
        raise ValueError("the thesis network is an offline baseline: it cannot play live (use a livedrum model)")
    sampling = drummer.sampling if getattr(args, "audio_in", None) is None else drummer.sampling.for_audio()
    engine = Engine(drummer.net, sampling, drummer.seed, drummer.device)
    engine.styles = drummer.styles  # all style weights loaded now: a preset switch only copies tensors
    zeros = np.zeros((STEPS_PER_BEAT, BAND_FEATURES), np.float32)
    pos = np.zeros((STEPS_PER_BEAT, POSITION_FEATURES), np.float32)
    for _ in range(3):
        engine.hear(zeros, pos)
        engine.play(pos, 4)
        if engine.selector is not None:  # its first call, mid-show at the second bar, would be slow
            engine.selector.choose(engine.bar_memory)
    engine.reset()
    # everything loaded so far lives until exit: keep it out of the collector's way, so that a
    # full collection while playing takes microseconds, not milliseconds
    gc.collect()
    gc.freeze()
    return engine


def run_config(args: argparse.Namespace, bpm: float, beats_per_bar: int, mode: str):  # noqa: ANN201
    from livedrum.commands import feel_of, preset_of
    from livedrum.live.drummer import RunConfig

    clock = getattr(args, "clock", "internal")
    if clock == "tap" and args.tap_note is None and args.tap_cc is None:
        raise ValueError("--clock tap needs --tap-note N or --tap-cc N")
    if clock == "midi" and getattr(args, "clock_out", False):
        raise ValueError("--clock-out with --clock midi would send the clock followed back into its chain; "
                         "use one of them")
    if clock == "link":
        from livedrum.live.linksync import check_link

        check_link()
    for name in ("tap_note", "tap_cc"):
        value = getattr(args, name, None)
        if value is not None and not 0 <= value <= 127:
            raise ValueError(f"--{name.replace('_', '-')} must be within 0..127, got {value}")
    preset = preset_of(args)
    if preset is not None and beats_per_bar == 4:
        beats_per_bar = preset.beats_per_bar
    return RunConfig(bpm=bpm, mode=mode, beats_per_bar=beats_per_bar,
                     stop_bars=getattr(args, "stop_bars", 2), ending=not getattr(args, "no_ending", False),
                     feel=feel_of(args),
                     tap_note=getattr(args, "tap_note", None), tap_cc=getattr(args, "tap_cc", None),
                     clock_out=getattr(args, "clock_out", False))


def run_live(args: argparse.Namespace) -> int:
    from livedrum.cli import STARTED
    from livedrum.commands import preset_of
    from livedrum.kits import load_kit
    from livedrum.live.audio_options import follow_audio, open_audio
    from livedrum.live.controller import Controller
    from livedrum.live.drummer import Drummer
    from livedrum.live.lateness import LateNotes
    from livedrum.live.logs import EventLog
    from livedrum.live.osc import OscServer, parse_reply_targets, serve_osc
    from livedrum.live.ports import InputHub, midi_backend, open_output
    from livedrum.live.priority import raise_priority
    from livedrum.live.scheduler import Scheduler
    from livedrum.live.session import RecordingTap, Session
    from livedrum.signalmask import take_signals
    from livedrum.web.options import check_ui_options

    take_signals()
    sys.setswitchinterval(SWITCH_INTERVAL)
    cfg = run_config(args, DEFAULT_BPM if args.bpm is None else args.bpm, args.beats_per_bar, args.mode)
    backend = midi_backend(args.backend)
    controls = _load_controls(args.controls)
    kit = load_kit(args.kit)
    reply_to = parse_reply_targets(args.osc_reply)
    check_ui_options(args)
    log = EventLog(args.log, quiet=args.quiet)
    recorder = _open_recorder(args.record, cfg.bpm)
    engine = make_engine(args)
    priority = raise_priority(args.priority)  # before the ports: their threads inherit it
    out = open_output(backend, args.out, args.connect)
    _warn_unless_realtime(out, log)
    hub = audio = None
    try:
        scheduler = Scheduler(out.send, on_error=lambda line: log("error", line=line))
        scheduler.on_late = LateNotes(log)
        drummer = Drummer(engine, cfg, scheduler, log)
        drummer.kit = kit
        controller = Controller(drummer)
        preset = preset_of(args)
        if preset is not None:
            drummer.preset, drummer.fills.every = preset.name, preset.fill_every
        recording = RecordingTap(recorder, cfg.bpm, time.monotonic()) if recorder else None
        session = Session(drummer, scheduler, log, recording)
        osc = None if args.no_osc else OscServer(controller, log, allow=args.osc_allow.split(","), reply_to=reply_to)
        if controls is not None:
            session.route = _control_router(controls, controller, osc, log)
        hub = InputHub(backend, args.inputs or [""], session.handoff, exclude=[args.out], timing=args.clock == "midi")
        audio = open_audio(args, drummer, log)  # a missing or refusing device: one line, exit 1

        async def main() -> int:
            transport = None if osc is None else await serve_osc(osc, args.osc_host, args.osc_port)
            sync = _follow_clock(args.clock, drummer, session, log)  # Link needs the running loop
            sync = follow_audio(args, audio, drummer, sync)
            ui = None
            if not args.no_ui:  # aiohttp only for a daemon that serves the page
                from livedrum.web.ui import start_live_ui

                ui = await start_live_ui(args, controller, log, str(engine.device))
            try:
                extra = [_watch_ports(hub, out, drummer, log)]
                if ui is not None:
                    extra.append(ui.run())
                if audio is not None:
                    extra.append(audio.run())
                if sys.stdout.isatty() and not args.quiet:
                    from livedrum.live.view import LiveView

                    extra.append(LiveView(drummer, preset_of=lambda: drummer.preset).run())
                target = args.connect or f"virtual port {args.out}"
                listening = "" if osc is None else f", OSC on {args.osc_host}:{args.osc_port}"
                listening += "" if ui is None else f", page on {ui.url}"
                listening += "" if audio is None else f", audio from {audio.name}"

                def ready() -> None:  # said once SIGTERM and SIGINT are the session's
                    seconds = time.perf_counter() - STARTED
                    log("ready", line=f"ready in {seconds:.1f} s: drums to {target}, {cfg.mode} mode, {cfg.bpm:g} "
                                      f"BPM{listening}, {priority} (Ctrl-C to stop)", seconds=round(seconds, 3))

                return await session.run(*extra, ready=ready)
            finally:
                if ui is not None:
                    await ui.close()
                if transport is not None:
                    transport.close()
                if hasattr(sync, "close"):
                    sync.close()

        status = asyncio.run(main())
        s = drummer.status()
        log("stopped", line=f"stopped: {s.notes} notes sent, {s.late} late", notes=s.notes, late=s.late)
        return status
    finally:
        if audio is not None:
            audio.close()
        if hub is not None:
            hub.close()
        out.close()
        log.close()


def _follow_clock(kind: str, drummer, session, log):  # noqa: ANN001, ANN202
    """The clock the drummer follows for `--clock midi|link|follow`, attached; None for its own."""
    if kind == "midi":
        from livedrum.live.midiclock import MidiClockFollower, transport_listener

        sync = MidiClockFollower(log)
        session.clock_in = transport_listener(sync, drummer)
        drummer.stopped = True  # the clock's Start starts the drums
    elif kind == "link":
        from livedrum.live.linksync import LinkSync

        sync = LinkSync(drummer.cfg.bpm, drummer.cfg.beats_per_bar, log)
    elif kind == "follow":
        from livedrum.live.beatfollow import OnsetFollower

        sync = OnsetFollower(drummer.cfg.bpm, log)
        drummer.on_band.append(sync.hear)
    else:
        return None
    drummer.sync = sync
    return sync


def _load_controls(name: str):  # noqa: ANN202
    if name in ("", "none"):
        return None
    from livedrum.live.control_map import load_controls

    return load_controls(name)


def _control_router(controls, controller, osc, log):  # noqa: ANN001, ANN202
    """Footswitches and mapped controllers: their messages steer the drummer and never reach the
    band's features; what changed is echoed to the OSC clients too."""

    def route(t: float, message) -> bool:  # noqa: ANN001
        if not controls.claims(message):
            return False
        action = controls.action_for(message)
        if action is None:
            return True
        try:
            changed = controller.apply(action)
        except (TypeError, ValueError) as exc:
            log("warning", line=f"control {action.name}: {exc}")
            return True
        log("control", action=action.name, value=action.value)
        controller.announce(changed)  # to the OSC clients and the web pages
        return True

    return route


def _open_recorder(path: str | None, bpm: float):  # noqa: ANN202
    if not path:
        return None
    from livedrum.live.recorder import Recorder

    return Recorder(path, bpm)


def _warn_unless_realtime(out, log) -> None:  # noqa: ANN001
    """One warning when the drums go to a JACK server that is not realtime (see `jackinfo`)."""
    if getattr(out, "on_jack", False):
        from livedrum.live.jackinfo import NOT_REALTIME, server_is_realtime

        if server_is_realtime() is False:
            log("warning", line=NOT_REALTIME)


async def _watch_ports(hub, out, drummer, log, every: float = 0.5) -> None:  # noqa: ANN001
    """Hot-plug: pick up ports that appear, let go of ones that vanish, reconnect when they return;
    the same for the destination the drums were connected to (`--connect`)."""
    loop = asyncio.get_running_loop()
    poll_output = getattr(out, "poll", lambda: None)
    while True:
        # opening an input takes milliseconds, letting one go 20 (a soak's notes went out late just
        # after an unplug): the inputs are scanned in a worker thread, never on the loop; and at a
        # quiet moment, as its calls into the MIDI library hold the GIL (a soak lost a spinning note's)
        await drummer.scheduler.quiet(PORT_SCAN_GAP)
        for line in await loop.run_in_executor(None, hub.poll):
            log("input", line=line)
            if "lost" in line:  # its note-offs will never come
                drummer.band.release_all(time.monotonic())
        # the output's client sends the drums, so it is scanned here, away from any note
        await drummer.scheduler.quiet(PORT_SCAN_GAP)
        line = poll_output()
        if line is not None:
            log("output", line=line)
        await asyncio.sleep(every)


# ---- demo --------------------------------------------------------------------------------

def add_demo(sub: argparse._SubParsersAction, epilog: str) -> None:
    from livedrum.commands import _model_options

    p = _parser(sub, "demo", "hear the drummer with no MIDI gear: a bundled band part, played live", epilog)
    p.add_argument("--band", default=None, metavar="FILE.mid", help="band part to play (default: the bundled one)")
    p.add_argument("-o", "--output", default="demo-with-drums.mid", metavar="OUT.mid",
                   help="the band and the drums, written while playing")
    p.add_argument("--bars", type=int, default=0, help="play only this many bars (0: all)")
    p.add_argument("--out", default="livedrum", metavar="NAME",
                   help="also send band and drums to this virtual MIDI port, when MIDI ports exist")
    p.add_argument("--no-port", action="store_true", help="no MIDI port: screen and file only")
    _backend_option(p)
    _feel_options(p)
    _model_options(p)
    p.set_defaults(func=run_demo, record=None)


def run_demo(args: argparse.Namespace) -> int:
    from livedrum.live.demo import play_demo

    return play_demo(args, DEMO_BAND)
