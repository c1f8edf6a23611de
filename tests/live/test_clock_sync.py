"""`livedrum run --clock midi|link` end to end: a sequencer's MIDI clock on a real JACK port, and a
real Ableton Link peer (aalink) on this machine's loopback, lead the drums."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.live.jack_clients import capture_port
from tests.live.test_run import Daemon, drum_ons, stuck_notes

PPQN = 24


def ramp(beat: float) -> float:
    """The sequencer's tempo: 100 BPM, up to 130 over six bars, then 130."""
    return 100.0 + 30.0 * min(1.0, max(0.0, beat / 24))


SEQUENCER = """
import json, sys, time
import mido
ppqn, beats, out = 24, int(sys.argv[1]), sys.argv[2]
def tempo(beat):
    return 100.0 + 30.0 * min(1.0, max(0.0, beat / 24))
port = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_output("clock", virtual=True, client_name="seq")
print("ready", flush=True)
sys.stdin.readline()
def at(t, message):
    ahead = t - time.monotonic() - 0.002
    if ahead > 0:
        time.sleep(ahead)
    while time.monotonic() < t:
        pass
    port.send(message)
ticks = []
t = time.monotonic() + 0.05
for k in range(-ppqn, beats * ppqn):
    if k == 0:  # half a tick before: one message per JACK cycle (python-rtmidi may read a second as a copy)
        at(t - 30.0 / tempo(0) / ppqn, mido.Message("start"))
    at(t, mido.Message("clock"))
    if k >= 0:
        ticks.append(t)
    t += 60.0 / tempo(max(k, 0) / ppqn) / ppqn
at(t - 0.002, mido.Message("stop"))
json.dump({"ticks": ticks, "stop": t}, open(out, "w"))
time.sleep(0.3)
port.close()
"""


class Sequencer:
    """A sequencer in a process of its own (so that nothing here delays its ticks): a JACK port
    `seq:clock` that sends one beat of ticks, Start, the ramp (`ramp`, tick k of the song at
    ticks[k]) and Stop."""

    def __init__(self, tmp: Path, beats: int) -> None:
        self.out = tmp / "sequencer.json"
        self.proc = subprocess.Popen([sys.executable, "-c", SEQUENCER, str(beats), str(self.out)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def play(self, timeout: float) -> tuple[np.ndarray, float]:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=timeout)
        sent = json.loads(self.out.read_text())
        return np.array(sent["ticks"]), sent["stop"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_drums_follow_a_midi_clock_ramping_100_to_130_bpm(jack_server, tmp_path) -> None:  # noqa: ANN001
    beats = 32
    sequencer = Sequencer(tmp_path, beats)
    daemon = Daemon(tmp_path, "--mode", "lead", "--clock", "midi", "--in", "seq:clock", "--humanize", "0",
                    "--swing", "0", "--bpm", "90", "--no-osc")
    try:
        daemon.wait_for_event("input")
        with capture_port(source="livedrum:livedrum") as heard:
            time.sleep(0.3)
            ticks, stop_sent = sequencer.play(timeout=60)
            time.sleep(0.3)
            err = daemon.terminate()
            time.sleep(0.2)
    finally:
        sequencer.close()
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    ons = drum_ons(heard)
    times = np.array([t for t, _ in ons])
    assert len(times) > 50, err
    # every drum note on the clock's 12-step grid, from bar 3 on: beat positions read off the ticks sent
    beat = np.interp(times, ticks, np.arange(len(ticks))) / PPQN
    later = (beat >= 8) & (times < ticks[-1])
    step = np.rint(beat[later] * 12) / 12
    seconds_per_beat = 60.0 / np.array([ramp(b) for b in step])
    phase = (beat[later] - step) * seconds_per_beat
    assert later.sum() > 40
    assert np.median(np.abs(phase)) < 0.004, phase
    assert np.percentile(np.abs(phase), 90) < 0.010, phase
    # the drums' tempo, bar by bar from bar 3 on: a line through note times against their grid steps
    for bar in range(2, beats // 4):
        inside = (step >= 4 * bar) & (step < 4 * bar + 4)
        if inside.sum() >= 4:
            drums_bpm = 60.0 / np.polyfit(step[inside], times[later][inside], 1)[0]
            clock_bpm = ramp(4 * bar + 2)
            assert abs(drums_bpm / clock_bpm - 1) < 0.02, (bar, drums_bpm, clock_bpm)
    # the clock's Start is the drums' beat 0; its Stop silences them at once
    assert abs(daemon.events("start")[0]["origin"] - ticks[0]) < 0.010
    assert "MIDI clock: stop" in err
    assert not any(t > stop_sent + 0.05 for t in times)
    assert stuck_notes(heard) == {}


def test_midi_clock_with_clock_out_is_refused_in_one_line(tmp_path) -> None:  # noqa: ANN001
    out = subprocess.run([sys.executable, "-m", "livedrum", "run", "--clock", "midi", "--clock-out"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0 and "--clock-out" in out.stderr


# ---- Ableton Link ------------------------------------------------------------------------------

class LinkPeer:
    """An aalink peer of the test's own, on an event loop in a thread (aalink wants a running loop)."""

    def __init__(self, bpm: float = 120.0) -> None:
        aalink = pytest.importorskip("aalink", reason="aalink is not installed (pip install 'livedrum[link]')")
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def make() -> None:
                self.link = aalink.Link(bpm)
                self.link.quantum = 4
                self.link.enabled = True
                ready.set()

            self.loop.run_until_complete(make())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    def call(self, fn: Callable[[], object]) -> object:
        return asyncio.run_coroutine_threadsafe(_call(fn), self.loop).result(5)

    def close(self) -> None:
        self.call(lambda: setattr(self.link, "enabled", False))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _call(fn: Callable[[], object]) -> object:
    return fn()


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def link_works() -> None:
    """Two Link peers must find each other here (multicast on loopback); else skip with the reason."""
    a, b = LinkPeer(), LinkPeer()
    try:
        if not wait_until(lambda: a.call(lambda: a.link.num_peers) >= 1, 5.0):
            pytest.skip("Ableton Link peers cannot find each other on this machine (no multicast on loopback)")
    finally:
        a.close()
        b.close()


def test_link_peers_share_a_tempo_both_ways(jack_server, tmp_path, link_works) -> None:  # noqa: ANN001
    import shutil

    from tests.live.test_osc import free_udp_port

    if shutil.which("oscsend") is None:
        pytest.skip("liblo-tools is not installed (oscsend)")
    peer = LinkPeer(120.0)
    osc = free_udp_port()
    daemon = Daemon(tmp_path, "--mode", "lead", "--clock", "link", "--bpm", "120", "--in", "nothing-matches-this",
                    "--humanize", "0", "--swing", "0", "--osc-port", str(osc))
    try:
        with capture_port(source="livedrum:livedrum") as heard:
            assert wait_until(lambda: peer.call(lambda: peer.link.num_peers) >= 1, 5.0), "the daemon's Link peer"
            peer.call(lambda: setattr(peer.link, "tempo", 128.0))  # the test's peer sets the session's tempo
            assert wait_until(lambda: any(abs(e["bpm"] - 128.0) < 0.3 for e in daemon.events("tempo")), 5.0), \
                daemon.log.read_text()
            time.sleep(4.5)  # joining moved the session's phase: a few beats of bending, then on its grid
            grid = peer.call(lambda: (peer.link.beat, peer.link.time.total_seconds(), peer.link.tempo))
            heard_128 = drum_ons(heard)
            # and the other way: our tempo, set over OSC, becomes the session's
            subprocess.run(["oscsend", "localhost", str(osc), "/livedrum/tempo", "f", "100"], check=True, timeout=10)
            assert wait_until(lambda: abs(peer.call(lambda: peer.link.tempo) - 100.0) < 0.01, 5.0)
            err = daemon.terminate()
            time.sleep(0.2)
    finally:
        peer.close()
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    beat0, t0, bpm = grid
    assert bpm == pytest.approx(128.0)
    late = [t for t, _ in heard_128 if t > t0 - 2.0]  # the last two seconds: settled
    assert len(late) > 10, err
    beats = beat0 + (np.array(late) - t0) * bpm / 60.0
    phase = (beats * 12 - np.rint(beats * 12)) / 12 * 60.0 / bpm
    assert np.median(np.abs(phase)) < 0.004 and np.percentile(np.abs(phase), 90) < 0.010, phase
    assert stuck_notes(heard) == {}


def test_link_without_aalink_is_one_clear_line(monkeypatch) -> None:  # noqa: ANN001
    import importlib.util

    from livedrum.live.linksync import check_link

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aalink" else real(name, *a))
    with pytest.raises(ValueError, match=r"pip install 'livedrum\[link\]'"):
        check_link()
