"""OSC end to end: `oscsend`/`oscdump` (liblo-tools, not ours) steer `livedrum run` on real JACK ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from tests.live.jack_clients import capture_port
from tests.live.test_run import Daemon, drum_ons

pytestmark = pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo-tools is not installed")

BPM = 240.0
BAR = 4 * 60.0 / BPM
HATS = {42, 44, 46}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dump:
    """`oscdump` on a port of its own: a second OSC client that only listens."""

    def __init__(self) -> None:
        self.port = free_udp_port()
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.2)

    def lines(self) -> list[str]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=5)
        return [line.split(" ", 1)[1] for line in out.splitlines() if " /" in line]  # drop the time tag


def oscsend(port: int, address: str, *typed: str) -> None:
    subprocess.run(["oscsend", "localhost", str(port), address, *typed], check=True, timeout=10)


class Band:
    """The bundled band part on a loop from a JACK client of its own, in a thread, at BPM."""

    def __init__(self) -> None:
        import threading

        from livedrum.live.cli import DEMO_BAND
        from livedrum.live.clock import BeatClock
        from livedrum.live.sources import band_messages
        from livedrum.midifile import load_song
        from tests.live.jack_clients import band_port
        from tests.live.test_run import play

        self.messages = band_messages(load_song(DEMO_BAND))
        self.stop = threading.Event()
        self._port_cm = band_port("keys", client_name="band")
        self.port = self._port_cm.__enter__()
        length = 4 * 32

        def loop() -> None:
            clock = BeatClock(time.monotonic() + 0.2, BPM)
            rep = 0
            while not self.stop.is_set():
                shifted = [(b + rep * length, m) for b, m in self.messages]
                for beat, message in shifted:
                    if self.stop.is_set():
                        return
                    play(self.port, [(beat, message)], clock)
                rep += 1

        self.thread = threading.Thread(target=loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.port.send(mido_all_notes_off())
        self._port_cm.__exit__(None, None, None)


def mido_all_notes_off():  # noqa: ANN201
    import mido

    return mido.Message("control_change", channel=0, control=123)


def test_complexity_kit_errors_and_feedback(jack_server, tmp_path) -> None:  # noqa: ANN001
    osc_port = free_udp_port()
    dump = Dump()
    # following, the drummer's grid is the band's: beat 0 is the band's first note
    band = Band()
    daemon = Daemon(tmp_path, "--mode", "follow", "--bpm", str(BPM), "--in", "band:keys",
                    "--osc-port", str(osc_port), "--osc-reply", f"127.0.0.1:{dump.port}")
    try:
        daemon.wait_for_event("input")
        time.sleep(0.2)
        band.start()
        daemon.wait_for_event("start")
        with capture_port(source="livedrum:livedrum") as heard:
            time.sleep(0.5)

            def notes_per_bar(bars: int = 3) -> float:
                t0 = time.monotonic()
                time.sleep(bars * BAR)
                return sum(1 for t, _ in drum_ons(heard) if t >= t0) / bars

            oscsend(osc_port, "/livedrum/complexity", "f", "0.05")
            time.sleep(2 * BAR)  # the drummer settles into the new setting over a bar or two
            sparse = notes_per_bar(8)
            oscsend(osc_port, "/livedrum/complexity", "f", "0.95")
            time.sleep(BAR)  # a far move restarts the groove at the next window
            busy = notes_per_bar(8)
            # hi-hat off: not one hi-hat from the next bar on
            oscsend(osc_port, "/livedrum/kit/hihat", "f", "0")
            off_at = time.monotonic()
            time.sleep(2.5 * BAR)
            # a wrong type and an unknown address: an error reply, the state unchanged, the drums go on
            oscsend(osc_port, "/livedrum/complexity", "s", "loud")
            oscsend(osc_port, "/livedrum/cowbell", "f", "1")
            before = len(drum_ons(heard))
            time.sleep(BAR)
            still_playing = len(drum_ons(heard)) - before
            daemon.terminate()
    finally:
        band.close()
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    lines = dump.lines()
    print(f"drum notes per bar at complexity 0.05: {sparse:.1f}, at 0.95: {busy:.1f}")
    assert busy >= 1.5 * sparse > 0, (sparse, busy)
    late_hats = [m.note for t, m in drum_ons(heard) if t > off_at + BAR and m.note in HATS]
    assert late_hats == []
    assert still_playing > 0
    errors = [x for x in lines if x.startswith("/livedrum/error")]
    assert len(errors) == 2 and "loud" in errors[0] and "cowbell" in errors[1], lines
    # feedback reached the second client, the state shows complexity unchanged by the bad message
    assert any(x.startswith("/livedrum/complexity f 0.95") for x in lines), lines
    assert any(x.startswith("/livedrum/kit/hihat i 0") for x in lines), lines
    assert not any("complexity" in x and "loud" not in x and "0.05" not in x and "0.95" not in x for x in lines)


def test_status_preset_fill_tempo_and_a_flood(jack_server, tmp_path) -> None:  # noqa: ANN001
    osc_port = free_udp_port()
    dump = Dump()
    daemon = Daemon(tmp_path, "--mode", "lead", "--bpm", "160", "--in", "nothing-matches-this",
                    "--osc-port", str(osc_port), "--osc-reply", f"127.0.0.1:{dump.port}")
    try:
        with capture_port(source="livedrum:livedrum") as heard:
            time.sleep(0.5)
            oscsend(osc_port, "/livedrum/preset", "s", "shuffle")
            oscsend(osc_port, "/livedrum/preset", "s", "polka")
            oscsend(osc_port, "/livedrum/tempo", "f", "999")
            oscsend(osc_port, "/livedrum/fill")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # garbage at full speed
                for i in range(3000):
                    s.sendto(b"\x00garbage" * (i % 7), ("127.0.0.1", osc_port))
            time.sleep(2 * 4 * 60.0 / 160)
            before = len(drum_ons(heard))
            time.sleep(0.5)
            assert len(drum_ons(heard)) > before  # still playing after the flood
            time.sleep(0.5)  # the flood's rate limit refills
            oscsend(osc_port, "/livedrum/status")
            time.sleep(0.3)
            daemon.terminate()
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    lines = dump.lines()
    assert any(x.startswith("/livedrum/preset s") and "shuffle" in x for x in lines), lines
    errors = [x for x in lines if x.startswith("/livedrum/error")]
    assert any("polka" in x for x in errors) and any("tempo" in x for x in errors)
    assert any(e["event"] == "preset" and e["name"] == "shuffle" for e in daemon.events("preset"))
    assert daemon.events("fill")
    assert any(x.startswith("/livedrum/tempo f 160") for x in lines), lines  # status: the tempo stayed


def test_a_footswitch_and_the_mod_wheel_steer_the_drummer(jack_server, tmp_path) -> None:  # noqa: ANN001
    import mido

    from tests.live.jack_clients import band_port

    dump = Dump()
    with band_port("pedal", client_name="footswitch") as pedal:
        daemon = Daemon(tmp_path, "--mode", "lead", "--bpm", "160", "--in", "footswitch", "--osc-port",
                        str(free_udp_port()), "--osc-reply", f"127.0.0.1:{dump.port}")
        try:
            daemon.wait_for_event("input")
            time.sleep(0.3)
            pedal.send(mido.Message("control_change", channel=0, control=1, value=127))  # mod wheel: complexity
            pedal.send(mido.Message("control_change", channel=0, control=112, value=127))  # BeatBuddy: fill
            pedal.send(mido.Message("note_on", channel=0, note=2, velocity=100))  # kit toggle: hi-hat off
            time.sleep(0.5)
            daemon.terminate()
        finally:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
    lines = dump.lines()
    assert any(x.startswith("/livedrum/complexity f 1.0") for x in lines), lines
    assert any(x.startswith("/livedrum/kit/hihat i 0") for x in lines), lines
    assert daemon.events("fill")
    from livedrum.midifile import load_song

    assert len(load_song(daemon.record).band) == 0  # controls never reach the band


def test_feedback_reaches_every_client_the_daemon_has_seen(jack_server, tmp_path) -> None:  # noqa: ANN001
    """A phone that sent anything (here: a status request from a socket bound to its own port) gets every
    later change, also those another client (`oscsend`) makes."""
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    osc_port = free_udp_port()
    daemon = Daemon(tmp_path, "--mode", "lead", "--bpm", "160", "--in", "nothing-matches-this",
                    "--osc-port", str(osc_port))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            phone.settimeout(0.2)
            heard: list[tuple[str, list]] = []

            def drain(until: float) -> None:
                while time.monotonic() < until:
                    try:
                        data, _ = phone.recvfrom(65536)
                    except TimeoutError:
                        continue
                    message = OscMessage(data)
                    heard.append((message.address, list(message.params)))

            deadline = time.monotonic() + 10.0
            while not any(a == "/livedrum/complexity" for a, _ in heard):  # the daemon may still be starting
                assert time.monotonic() < deadline, heard
                phone.sendto(OscMessageBuilder("/livedrum/status").build().dgram, ("127.0.0.1", osc_port))
                drain(time.monotonic() + 0.5)
            heard.clear()
            oscsend(osc_port, "/livedrum/complexity", "f", "0.3")
            oscsend(osc_port, "/livedrum/kit/toms", "i", "0")
            drain(time.monotonic() + 1.0)
        daemon.terminate()
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    assert any(a == "/livedrum/complexity" and abs(p[0] - 0.3) < 1e-6 for a, p in heard), heard
    assert ("/livedrum/kit/toms", [0]) in heard, heard
