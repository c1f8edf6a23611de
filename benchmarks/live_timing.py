"""How tight is the live drummer? Timing of sent notes through JACK, CPU, memory, start-up.

Starts its own JACK server (dummy driver, 48 kHz, 64-frame periods), then measures side by side:
- reference: a plain sender (sleep, then spin to the deadline) sending notes on a 12-step grid
  at 120 BPM through a JACK MIDI port to a receiver;
- livedrum: `livedrum run --backend jack` following a band part that a separate JACK client
  plays into it at 120 BPM, with --humanize 0, so every drum note is planned on its clock's grid.
The receiver stamps arrivals with time.monotonic() (shared by all processes on the machine).
Error = arrival - planned time. Also: the daemon's CPU use (share of one core while playing),
resident memory, and the time from launch to its "ready" line.

    python benchmarks/live_timing.py [--seconds 30] [--clock-out] [--osc-flood 10000]

With --clock-out: the daemon's MIDI clock ticks (24 per beat) against the ideal grid, beside a plain
clock sender's, and the JACK period they are quantised to.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livedrum.live.clock import BeatClock  # noqa: E402
from livedrum.live.sources import band_messages  # noqa: E402
from livedrum.midifile import load_song  # noqa: E402

JACK = "mido.backends.rtmidi/UNIX_JACK"
BPM = 120.0
OSC_PORT = 9317
STEP = 60.0 / BPM / 12


def jack_scheduling() -> str:
    """`-R` (realtime: jackd's default, and how a stage runs it) where this machine allows SCHED_FIFO.

    Not realtime, JACK's client threads are preempted like any other; a client's process callback
    then runs late, past the cycle, and rtmidi's JACK input can read an event buffer the next cycle is
    rewriting: event sizes that are garbage, and a SIGSEGV in `jackProcessIn` (a soak's receiver dumped
    core there at 10 minutes; the daemon died in a native thread at 11.7 minutes in another soak)."""
    from livedrum.live.priority import realtime_allowed

    return "-R" if realtime_allowed() else "--no-realtime"


def start_jack() -> subprocess.Popen:
    name = f"livedrum-bench-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    proc = subprocess.Popen(["jackd", jack_scheduling(), "-n", name, "-d", "dummy", "-r", "48000", "-p", "64"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backend = mido.Backend(JACK)
    for _ in range(100):
        try:
            backend.get_output_names()
            probe = backend.open_output("probe", virtual=True, client_name="probe")
            probe.close()
            return proc
        except Exception:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("jackd did not start (apt-get install jackd2)")


class Receiver:
    """Arrival times in a process of its own, so that the senders' spinning cannot delay them."""

    def __init__(self, source: str) -> None:
        self.out = Path(tempfile.mkdtemp()) / "arrivals.json"
        self.proc = subprocess.Popen([sys.executable, __file__, "--receive", source, "--to", str(self.out)],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "listening":
            raise SystemExit(f"the receiver could not listen to {source}")

    def close(self) -> list[tuple[float, list[int]]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        return json.loads(self.out.read_text())


def receive(source: str, to: str) -> None:
    import rtmidi

    arrivals: list[tuple[float, list[int]]] = []
    rx = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "bench-receiver")
    ports = rx.get_ports()
    rx.open_port(next(i for i, n in enumerate(ports) if source in n))
    rx.ignore_types(sysex=True, timing=False, active_sense=True)  # rtmidi drops MIDI clock unless told
    rx.set_callback(lambda event, data=None: arrivals.append((time.monotonic(), event[0])))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    time.sleep(0.3)  # a new JACK connection carries messages from a later cycle on
    print("listening", flush=True)
    while not stop:
        time.sleep(0.05)
    rx.cancel_callback()
    Path(to).write_text(json.dumps(arrivals))


def wait_until(t: float) -> None:
    ahead = t - time.monotonic() - 0.0015
    if ahead > 0:
        time.sleep(ahead)
    while time.monotonic() < t:
        pass


def reference(backend: mido.Backend, seconds: float) -> np.ndarray:
    """A plain sender: notes on the 12-step grid, hats every eighth, kick and snare on beats."""
    out = backend.open_output("reference", virtual=True, client_name="bench-reference")
    rx = Receiver("bench-reference")
    t0 = time.monotonic() + 0.2
    planned = []
    step = 0
    while step * STEP < seconds:
        t = t0 + step * STEP
        note = 36 if step % 24 == 0 else 38 if step % 12 == 0 else 42
        wait_until(t)
        out.send(mido.Message("note_on", channel=9, note=note, velocity=100))
        planned.append(t)
        wait_until(t + STEP / 2)
        out.send(mido.Message("note_off", channel=9, note=note))
        step += 6
    time.sleep(0.2)
    arrivals = [t for t, m in rx.close() if m[0] == 0x99]
    out.close()
    return grid_errors(np.array(arrivals), np.array(planned))


def grid_errors(arrivals: np.ndarray, planned: np.ndarray) -> np.ndarray:
    """Each arrival against the planned time it belongs to (the nearest before it, within half an
    interval), so that a message lost on the way does not shift the pairs after it."""
    half = float(np.min(np.diff(planned))) / 2 if len(planned) > 1 else 0.5
    index = np.clip(np.searchsorted(planned, arrivals - half), 0, len(planned) - 1)
    return arrivals - planned[index]


def reference_clock(backend: mido.Backend, seconds: float) -> np.ndarray:
    """A plain MIDI clock sender: 24 ticks per beat at BPM (sleep, then spin to each tick's time)."""
    out = backend.open_output("reference-clock", virtual=True, client_name="bench-clock")
    rx = Receiver("bench-clock")
    tick = 60.0 / BPM / 24
    t0 = time.monotonic() + 0.2
    planned = []
    k = 0
    while k * tick < seconds:
        t = t0 + k * tick
        wait_until(t)
        out.send(mido.Message("clock"))
        planned.append(t)
        k += 1
    time.sleep(0.2)
    arrivals = [t for t, m in rx.close() if m[0] == 0xF8]
    out.close()
    return grid_errors(np.array(arrivals), np.array(planned))


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


FLOOD = """
import random, socket, sys
from pythonosc.osc_message_builder import OscMessageBuilder
def msg(address, *args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram
rnd = random.Random(0)
valid = [msg("/livedrum/complexity", 0.3), msg("/livedrum/intensity", 0.6), msg("/livedrum/kit/toms", 1.0),
         msg("/livedrum/swing", 0.0), msg("/livedrum/status")]
wrong = [msg("/livedrum/complexity", "loud"), msg("/livedrum/cowbell", 1.0), msg("/livedrum/tempo", 9999.0)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    k = i % 3
    data = rnd.choice(valid) if k == 0 else rnd.choice(wrong) if k == 1 else rnd.randbytes(rnd.randint(1, 200))
    s.sendto(data, ("127.0.0.1", int(sys.argv[1])))
"""


def livedrum_run(backend: mido.Backend, seconds: float, flood: int = 0, clock_out: bool = False,
                 extra: tuple[str, ...] = (), on_ready=None) -> dict:  # noqa: ANN001
    """The daemon following a band part: note timing, CPU share while playing, memory, start-up;
    with `flood`, that many OSC packets (valid, wrong and garbage) at full speed while it plays.
    `extra`: more options (without `--ui-port` the web page is off); `on_ready()` is called once the
    daemon is ready, its result returned as "hook" (benchmarks/ui_load.py connects its pages there)."""
    band = backend.open_output("band", virtual=True, client_name="bench-band")
    log = Path(tempfile.mkdtemp()) / "run.jsonl"
    launched = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "livedrum", "run", "--backend", "jack", "--in", "bench-band", "--bpm", str(BPM),
         "--humanize", "0", "--log", str(log), "--stop-bars", "4", "--osc-port", str(OSC_PORT),
         *(["--clock-out"] if clock_out else []), *([] if "--ui-port" in extra else ["--no-ui"]), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ready = None
    while ready is None:
        line = daemon.stderr.readline()
        if not line:
            raise SystemExit(f"livedrum run exited: {daemon.wait()}")
        if "ready" in line:
            ready = time.monotonic() - launched
    time.sleep(1.0)  # the hub polls for inputs twice a second
    hook = on_ready() if on_ready is not None else None
    rx = Receiver("livedrum:livedrum")
    song = load_song(ROOT / "livedrum" / "data" / "demo-band.mid")
    messages = band_messages(song)
    clock = BeatClock(time.monotonic() + 0.5, BPM)
    cpu0, wall0 = proc_cpu_seconds(daemon.pid), time.monotonic()
    rss = 0.0
    i = 0
    flooder = None
    while True:
        if flood and flooder is None and time.monotonic() > clock.origin + 2.0:
            flooder = subprocess.Popen([sys.executable, "-c", FLOOD, str(OSC_PORT), str(flood)])
        beat, msg = messages[i % len(messages)]
        loop = i // len(messages)
        beat = beat + loop * (messages[-1][0] + 4)
        if beat * 60 / BPM > seconds:
            break
        wait_until(clock.time_of(beat))
        band.send(msg)
        i += 1
        if i % 200 == 0:
            rss = max(rss, proc_rss_mb(daemon.pid))
    cpu = (proc_cpu_seconds(daemon.pid) - cpu0) / (time.monotonic() - wall0)
    if flooder is not None:
        flooder.wait(timeout=60)
    rss = max(rss, proc_rss_mb(daemon.pid))
    time.sleep(0.5)
    alive = daemon.poll() is None
    daemon.terminate()
    daemon.wait(timeout=10)
    received = rx.close()
    band.close()
    start = next(json.loads(x) for x in log.read_text().splitlines() if '"start"' in x)
    origin = float(start["origin"])
    arrivals = np.array([t for t, m in received if m[0] == 0x99 and m[2] > 0])
    steps = (arrivals - origin) / STEP
    errors = (steps - np.rint(steps)) * STEP  # the nearest grid step is the planned time
    ticks = np.array([t for t, m in received if m[0] == 0xF8])
    tick = STEP * 12 / 24
    phase = (ticks - origin) / tick
    tick_errors = (phase - np.rint(phase)) * tick
    return {"errors": errors, "cpu": cpu, "rss": rss, "ready": ready, "alive": alive, "ticks": tick_errors,
            "hook": hook}


def row(name: str, e: np.ndarray) -> str:
    ms = np.abs(e) * 1000
    return (f"{name:<22} {len(e):>6} {np.percentile(ms, 50):>8.3f} {np.percentile(ms, 99):>8.3f} "
            f"{ms.max():>8.3f} {np.mean(e) * 1000:>+9.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--osc-flood", type=int, default=0, metavar="N",
                    help="also run the daemon while N OSC packets (valid, wrong, garbage) arrive at full speed")
    ap.add_argument("--clock-out", action="store_true", help="also run the daemon with --clock-out")
    ap.add_argument("--receive", help=argparse.SUPPRESS)
    ap.add_argument("--to", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receive:
        return receive(args.receive, args.to)
    jack = start_jack()
    try:
        backend = mido.Backend(JACK)
        ref = reference(backend, args.seconds)
        live = livedrum_run(backend, args.seconds)
        flooded = livedrum_run(backend, args.seconds, args.osc_flood) if args.osc_flood else None
        clocked = livedrum_run(backend, args.seconds, clock_out=True) if args.clock_out else None
        ref_clock = reference_clock(backend, args.seconds) if args.clock_out else None
    finally:
        jack.terminate()
        jack.wait(timeout=10)
    scheduling = "realtime" if jack.args[1] == "-R" else "not realtime"
    print(f"JACK dummy driver ({scheduling}), 48 kHz, 64-frame periods; {BPM:g} BPM; {os.cpu_count()} CPU cores")
    print(f"{'sender':<22} {'notes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>9}")
    print(row("reference sender", ref))
    print(row("livedrum run", live["errors"]))
    if flooded is not None:
        print(row(f"+ {args.osc_flood} OSC packets", flooded["errors"]))
    gap = np.percentile(np.abs(live["errors"]), 99) - np.percentile(np.abs(ref), 99)
    print(f"p99 over the reference: {gap * 1000:+.3f} ms (goal: within 1 ms)")
    if clocked is not None and ref_clock is not None:
        period = 64 / 48000
        print(f"\nMIDI clock out at 24 ppqn, {BPM:g} BPM: tick arrival against the ideal grid")
        print(f"{'sender':<22} {'ticks':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>9}")
        print(row("plain clock sender", ref_clock))
        print(row("livedrum --clock-out", clocked["ticks"]))
        p99 = np.percentile(np.abs(clocked["ticks"]), 99)
        print(f"JACK period: 64 frames at 48 kHz = {period * 1000:.3f} ms; livedrum tick p99 {p99 * 1000:.3f} ms "
              f"(goal: under 1 ms + the period = {(0.001 + period) * 1000:.3f} ms: "
              f"{'met' if p99 < 0.001 + period else 'NOT met'})")
        print(row("notes with clock out", clocked["errors"]))
        print(f"with --clock-out: CPU {clocked['cpu'] * 100:.2f} % of one core")
    if flooded is not None:
        d99 = np.percentile(np.abs(flooded["errors"]), 99) - np.percentile(np.abs(live["errors"]), 99)
        print(f"p99 under the OSC flood against without: {d99 * 1000:+.3f} ms (goal: within 1 ms); "
              f"the daemon survived: {flooded['alive']}")
    print(f"livedrum run: CPU {live['cpu'] * 100:.2f} % of one core while playing (goal < 3 %), "
          f"resident memory {live['rss']:.0f} MB (goal < 400), ready {live['ready']:.2f} s after launch (goal < 3)")


if __name__ == "__main__":
    main()
