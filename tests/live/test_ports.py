"""MIDI ports on a real JACK server: listing, the drums' output, and the band's hot-plugged inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mido
import pytest
import rtmidi

from livedrum.live.ports import BACKENDS, InputHub, PortList, describe, list_ports, midi_backend, open_output
from tests.live.jack_clients import Heard, band_port, capture_port, until_heard

NOTE = mido.Message("note_on", channel=1, note=60, velocity=100)
SETTLE_S = 0.05  # what a message sent before the one we waited for needs to arrive too
MAX_CHORDS = 40  # chords the busy-process test may send to get five through


def poll_until(hub: InputHub, done, timeout: float = 2.0) -> list[str]:  # noqa: ANN001
    """Poll until `done(hub)`; every change line seen on the way."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        lines += hub.poll()
        if done(hub):
            return lines
        assert time.monotonic() < deadline, f"hub never got there; saw {lines}, open {hub.open_names}"
        time.sleep(0.005)


# ---- backends -----------------------------------------------------------------------------

def test_backend_names_map_to_rtmidi_apis():
    assert midi_backend(None).api is None
    assert midi_backend("jack").api == "UNIX_JACK"
    assert midi_backend("JACK").api == "UNIX_JACK"


def test_unknown_backend_names_the_choices():
    choices = "alsa, jack, coremidi, windows"
    with pytest.raises(ValueError, match=f"unknown MIDI backend 'pipewire'; choose one of: {choices}"):
        midi_backend("pipewire")


@pytest.mark.parametrize("name", [n for n, api in BACKENDS.items()
                                  if getattr(rtmidi, f"API_{api}") not in rtmidi.get_compiled_api()])
def test_backend_rtmidi_lacks_here_is_a_value_error(name):
    with pytest.raises(ValueError, match=f"MIDI backend '{name}' is not available on this machine; rtmidi here has"):
        midi_backend(name)


def test_no_jack_server_is_one_clear_oserror(monkeypatch, capfd):
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without JACK support")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "livedrum-no-such-server")
    with pytest.raises(OSError, match="^no JACK server named 'livedrum-no-such-server' is running"):
        list_ports(midi_backend("jack"))
    assert capfd.readouterr().err == ""  # libjack's own complaints are silenced


@pytest.mark.skipif(rtmidi.API_LINUX_ALSA not in rtmidi.get_compiled_api() or os.path.exists("/dev/snd/seq"),
                    reason="needs rtmidi with ALSA on a machine without an ALSA sequencer")
def test_no_alsa_sequencer_is_one_clear_oserror(capfd):
    with pytest.raises(OSError, match="^the ALSA sequencer is not available"):
        list_ports(midi_backend("alsa"))
    assert capfd.readouterr().err == ""  # alsa-lib's own complaint is silenced


def test_describe_lists_inputs_and_outputs_under_headings():
    text = describe(PortList(inputs=["band:keys", "band:bass"], outputs=[]))
    assert text.splitlines() == ["MIDI inputs (listen with: livedrum run --in NAME):", "  band:keys", "  band:bass",
                                 "MIDI outputs (play into with: livedrum run --connect NAME):", "  (none)"]


# ---- listing and the drums' output --------------------------------------------------------

def test_list_ports_sees_virtual_ports(jack_server):
    with band_port("keys", client_name="lp-band"), capture_port("midi-in", client_name="lp-synth"):
        ports = list_ports(midi_backend("jack"))
    assert "lp-band:keys" in ports.inputs
    assert "lp-synth:midi-in" in ports.outputs


def test_virtual_output_is_listed_and_plays_into_a_listener(jack_server):
    jack = midi_backend("jack")
    with open_output(jack, name="drums", client_name="vo-drummer") as out:
        assert out.name == "drums"
        assert "vo-drummer:drums" in list_ports(jack).inputs
        with capture_port(source="vo-drummer:drums") as heard:
            until_heard(out.send, heard)
            out.send(NOTE)
            assert heard.wait_for(1)[0][0] == NOTE


def test_connect_plays_into_the_first_destination_containing_the_name(jack_server):
    jack = midi_backend("jack")
    with capture_port("synth-in", client_name="FluidSynth") as heard:
        with open_output(jack, name="drums", connect="fluidsynth", client_name="co-drummer") as out:
            assert out.name == "FluidSynth:synth-in"
            until_heard(out.send, heard)
            out.send(NOTE)
            assert heard.wait_for(1)[0][0] == NOTE


def test_a_connected_output_whose_synth_quits_is_reconnected_when_it_returns(jack_server):
    jack = midi_backend("jack")
    with capture_port("in", client_name="rc-synth") as heard:
        out = open_output(jack, name="drums", connect="rc-synth", client_name="rc-drummer")
        until_heard(out.send, heard)
        assert out.poll() is None  # still there: nothing to say
    try:
        assert _poll_output_until(out, "lost") == "output lost: rc-synth:in (will reconnect)"
        out.send(NOTE)  # into nothing, without an error
        assert out.poll() is None  # said once
        with capture_port("in", client_name="rc-synth") as heard:
            assert _poll_output_until(out, "reconnected") == "output reconnected: rc-synth:in"
            until_heard(out.send, heard)  # the drums reach the new synth
            out.send(NOTE)
            assert heard.wait_for(1)[0][0] == NOTE
    finally:
        out.close()


def test_a_virtual_output_has_nothing_to_reconnect(jack_server):
    with open_output(midi_backend("jack"), name="drums", client_name="vo-drummer") as out:
        assert out.poll() is None


def _poll_output_until(out, word: str, timeout: float = 2.0) -> str:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        line = out.poll()
        if line is not None and word in line:
            return line
        assert time.monotonic() < deadline, f"the output never said {word!r}"
        time.sleep(0.01)


def test_messages_sent_right_before_close_still_arrive(jack_server):
    # the panic on exit is sent, then the port closed at once: it must not be lost
    # (closed at once under JACK, about 1 in 5 such closes delivered 16 copies of the first message)
    panic = [mido.Message("control_change", channel=ch, control=123) for ch in range(16)]
    for _ in range(3):
        with capture_port("synth-in", client_name="cl-synth") as heard:
            out = open_output(midi_backend("jack"), connect="cl-synth", client_name="cl-drummer")
            until_heard(out.send, heard)
            for message in panic:
                out.send(message)
            out.close()
            assert [m for m, _ in heard.wait_for(16)] == panic


def test_connect_to_nothing_matching_lists_what_exists(jack_server):
    with capture_port("synth-in", client_name="nm-synth"):
        with pytest.raises(ValueError, match=r"no MIDI output matches 'nothing-like-this'; outputs: .*nm-synth:synth"):
            open_output(midi_backend("jack"), connect="nothing-like-this", client_name="nm-drummer")


# ---- the band's inputs --------------------------------------------------------------------

def test_hub_opens_matching_ports_only_and_stamps_arrivals(jack_server):
    jack = midi_backend("jack")
    heard = Heard()
    with band_port("keys", client_name="Hub-Band") as band, band_port("x", client_name="hub-noise") as noise, \
            open_output(jack, name="drums", client_name="hub-drummer") as own, \
            InputHub(jack, ["hub-band", "hub-drummer"], heard.add, exclude=["hub-drummer"]) as hub:
        assert hub.poll() == ["input connected: Hub-Band:keys"]
        assert hub.open_names == ["Hub-Band:keys"]
        assert hub.poll() == []  # nothing changed, nothing said
        until_heard(band.send, heard)
        noise.send(NOTE.copy(note=1))
        own.send(NOTE.copy(note=2))
        before = time.monotonic()
        band.send(NOTE)
        message, t = heard.wait_for(1)[0]
        assert message == NOTE
        assert before <= t <= time.monotonic()
        time.sleep(SETTLE_S)
        assert heard.messages == [NOTE]


def test_hub_drops_clock_sensing_sysex_and_unparsable_bytes(jack_server):
    heard = Heard()
    raw = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "raw-band")
    raw.open_virtual_port("raw")
    try:
        with InputHub(midi_backend("jack"), ["raw-band"], heard.add) as hub:
            poll_until(hub, lambda h: h.open_names == ["raw-band:raw"])
            until_heard(lambda m: raw.send_message(m.bytes()), heard)
            for data in ([0xF8], [0xFE], [0xF0, 0x7D, 0x01, 0xF7], [0xF4], [0xF9], NOTE.bytes()):
                raw.send_message(data)
            heard.wait_for(1)
            time.sleep(SETTLE_S)
            assert heard.messages == [NOTE]  # and the thread survived the garbage to deliver it
    finally:
        raw.close_port()
        raw.delete()


def test_hub_lets_go_of_an_unplugged_port_and_reconnects_when_it_returns(jack_server):
    heard = Heard()
    with InputHub(midi_backend("jack"), ["plug-band"], heard.add) as hub:
        with band_port("keys", client_name="plug-band") as band:
            assert poll_until(hub, lambda h: h.open_names) == ["input connected: plug-band:keys"]
            until_heard(band.send, heard)
        assert poll_until(hub, lambda h: not h.open_names) == ["input lost: plug-band:keys (will reconnect)"]
        with band_port("keys", client_name="plug-band") as band:
            assert poll_until(hub, lambda h: h.open_names) == ["input reconnected: plug-band:keys"]
            until_heard(band.send, heard)  # messages flow again
            band.send(NOTE)
            assert heard.wait_for(1)[0][0] == NOTE
    hub.close()  # again: harmless
    assert hub.poll() == []


def test_closing_the_hub_while_the_band_plays_neither_hangs_nor_crashes(jack_server):
    # Busy in Python right before close(), as a daemon is, so that JACK's thread is waiting for the GIL
    # to deliver a message when the port closes. Closed as mido closes an input, this hangs every time
    # (python-rtmidi 1.5.8); with the callback dropped before the in-flight one ran, it crashes. In a
    # separate process, so that a hang or a crash fails this test and not the whole session.
    script = textwrap.dedent("""
        import threading, time
        import mido
        from livedrum.live.ports import InputHub, midi_backend
        from tests.live.jack_clients import band_port

        jack, stop = midi_backend("jack"), threading.Event()
        note = mido.Message("note_on", note=60, velocity=90)
        with band_port("keys", client_name="flood-band") as band:
            def flood():
                while not stop.is_set():
                    band.send(note)
                    time.sleep(0.0003)
            sender = threading.Thread(target=flood)
            sender.start()
            try:
                for _ in range(10):
                    hub = InputHub(jack, ["flood-band"], lambda m, t: None)
                    hub.poll()
                    time.sleep(0.005)
                    busy_until = time.perf_counter() + 0.003
                    while time.perf_counter() < busy_until:
                        pass
                    hub.close()
            finally:
                stop.set()
                sender.join()
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])


def test_a_chord_arrives_intact_while_this_process_is_busy_in_python(jack_server):
    """With a callback inside JACK's cycle, rtmidi read the rest of a chord from a buffer already
    reused while it waited for the GIL (copies of the first note; crashes in long shows). JACK inputs
    are polled instead: the chord must arrive whole, however long Python holds the GIL."""
    heard = Heard()
    chord = [NOTE.copy(note=n) for n in (60, 64, 67)]
    with band_port("keys", client_name="busy-band") as band, \
            InputHub(midi_backend("jack"), ["busy-band"], heard.add) as hub:
        poll_until(hub, lambda h: h.open_names)
        until_heard(band.send, heard)
        # under load the test's own sender or JACK may lose a whole chord (seen 1 run in 8, our input queue
        # empty): chords are sent until five have arrived, each with the GIL held right after it
        for _ in range(MAX_CHORDS):
            for message in chord:
                band.send(message)
            busy_until = time.perf_counter() + 0.02  # the GIL held, as a daemon holds it between awaits
            while time.perf_counter() < busy_until:
                pass
            time.sleep(0.01)
            if len(heard.messages) >= 5 * len(chord):
                break
        time.sleep(SETTLE_S)
        got = heard.messages
        # every chord that arrived is whole and in order: no copies of a first note, no note of a chord lost
        assert len(got) >= 5 * len(chord) and got == chord * (len(got) // 3), got


def _threads() -> dict[int, int]:
    """This process' threads: id -> the signals each blocks (SigBlk of /proc/self/task/ID/status)."""
    blocked = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        line = next(x for x in status.splitlines() if x.startswith("SigBlk:"))
        blocked[int(task.name)] = int(line.split()[1], 16)
    return blocked


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_jack_threads_never_take_sigterm_or_sigint(jack_server):
    """The threads libjack starts for our ports inherit the signals held: a SIGTERM the kernel handed
    to JACK's process thread interrupted it, and the daemon died of SIGSEGV instead of stopping. And
    the main thread takes them again after our last client closes (libjack then restores the mask it
    saw when our first client opened: held; the daemons this process started ignored SIGTERM)."""
    import signal
    import threading

    from livedrum.signalmask import take_signals

    take_signals()  # a known start: earlier tests' JACK clients may have left this thread's mask held
    held = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    jack = midi_backend("jack")
    before = set(_threads())
    out = open_output(jack, name="drums", client_name="sig-drummer")  # ours first: libjack starts here
    try:
        with band_port("keys", client_name="sig-band"):
            band_threads = set(_threads()) - before
            hub = InputHub(jack, ["sig-band"], lambda m, t: None, client_name="sig-drummer")
            try:
                poll_until(hub, lambda h: h.open_names)
                python = {t.native_id for t in threading.enumerate()}  # Python's threads may take them
                started = {tid: mask for tid, mask in _threads().items()
                           if tid not in before | python | band_threads}
                assert started, "opening JACK ports started no thread"
                assert all(mask & held == held for mask in started.values()), started
                assert _threads()[threading.get_native_id()] & held == 0  # Python's handlers run here
            finally:
                hub.close()
    finally:
        out.close()  # the last JACK client of this process
    assert _threads()[threading.get_native_id()] & held == 0
