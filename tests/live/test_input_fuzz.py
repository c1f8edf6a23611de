"""Fuzzing the live daemon's inputs: no OSC packet and no MIDI message may raise out of its handler.

The OSC server gets arbitrary bytes and arbitrary well-formed messages and bundles under /livedrum
(every argument type python-osc writes, NaN and infinities, big integers, blobs, nil); after each
the controller's state must still be playable. The MIDI path gets every kind of message mido makes,
with timestamps that mostly increase but sometimes repeat or go back, interleaved with the beat
loop's `step` on a virtual clock; the band features it computes must stay finite.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import socket
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from livedrum.checkpoint import load_model
from livedrum.cli import default_model_path
from livedrum.engine import Engine
from livedrum.live.cli import _control_router
from livedrum.live.control_map import load_controls
from livedrum.live.controller import Controller
from livedrum.live.drummer import DECIDE_AHEAD_BEATS, Drummer, RunConfig
from livedrum.live.logs import EventLog
from livedrum.live.osc import PREFIX, OscServer
from livedrum.live.scheduler import Scheduler
from livedrum.live.session import Session
from livedrum.sampler import Sampling
from livedrum.vocab import PIECE_NAMES

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class VirtualTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@functools.cache
def _shipped() -> tuple:
    return load_model(default_model_path(), "cpu")


def make_drummer(mode: str = "lead", tap_note: int | None = None, tap_cc: int | None = None,
                 log: EventLog | None = None) -> tuple[Drummer, VirtualTime]:
    """A drummer with the shipped model on a virtual clock, an engine of its own (settings change)."""
    net, ckpt = _shipped()
    cal = ckpt.get("sampling", {})
    sampling = Sampling(complexity=cal.get("complexity", 0.5), bias=cal.get("bias", 0.0),
                        piece_bias=tuple(cal.get("piece_bias", {}).items()), groove=cal.get("groove", "none"))
    now = VirtualTime()
    cfg = RunConfig(bpm=120.0, mode=mode, tap_note=tap_note, tap_cc=tap_cc)
    drummer = Drummer(Engine(net, sampling, 0), cfg, Scheduler(lambda m: None), log, clock_source=now)
    return drummer, now


def human_log(tmp: Path) -> EventLog:
    """The daemon's own log (JSON lines and the human lines), written where the test can read it."""
    return EventLog(tmp / "log.jsonl", human=io.StringIO())


def assert_playable(c: Controller) -> None:
    """Every setting within the range the drummer can play."""
    s = c.state()
    for key in ("complexity", "intensity", "swing", "humanize"):
        assert isinstance(s[key], float) and math.isfinite(s[key]) and 0.0 <= s[key] <= 1.0, (key, s[key])
    assert math.isfinite(s["tempo"]) and 30.0 <= s["tempo"] <= 300.0, s["tempo"]
    assert s["mode"] in ("follow", "lead")
    assert all(isinstance(s[f"kit/{p}"], bool) for p in PIECE_NAMES)
    assert isinstance(s["preset"], str)
    assert 2 <= c.drummer.cfg.beats_per_bar <= 12


# ---- OSC ---------------------------------------------------------------------------------------

ADDRESSES = [f"{PREFIX}/{a}" for a in ("complexity", "intensity", "swing", "humanize", "tempo", "preset",
                                       "mode", "fill", "tap", "start", "stop", "status")]
ADDRESSES += [f"{PREFIX}/kit/{p}" for p in PIECE_NAMES]

# (value, python-osc type tag): every argument type an OSC client can send us
OSC_ARGS = st.one_of(
    st.tuples(st.integers(-(2**31), 2**31 - 1), st.just("i")),
    st.tuples(st.integers(-(2**63), 2**63 - 1), st.just("h")),
    st.tuples(st.floats(width=32), st.just("f")),  # NaN and infinities included
    st.tuples(st.floats(), st.just("d")),
    st.tuples(st.sampled_from([0.0, 1.0, 0.5, -0.0, 1e-45, 1.0000001, 30.0, 300.0, 300.00001, 1e30]),
              st.sampled_from(["f", "d"])),
    st.tuples(st.text(max_size=40), st.just("s")),
    st.tuples(st.sampled_from(["follow", "lead", "rock", "jazz", "../styles/rock", "x.toml", "a" * 300,
                               "../../../../etc/passwd", "nul\x00byte", "é"]),
              st.just("s")),
    st.tuples(st.binary(min_size=1, max_size=40), st.just("b")),  # python-osc writes no empty blob
    st.tuples(st.just(True), st.just("T")),
    st.tuples(st.just(False), st.just("F")),
    st.tuples(st.none(), st.just("N")),
    st.tuples(st.tuples(*[st.integers(0, 255)] * 4), st.just("m")),
    st.tuples(st.integers(0, 2**32 - 1), st.just("r")),
)
# values that broke handlers before: infinities where a whole number is wanted, a preset name longer
# than a file name may be, NUL bytes, paths
NASTY_VALUES = [
    (math.inf, "f"), (-math.inf, "d"), (math.nan, "f"), (-math.nan, "d"), (2**63 - 1, "h"), (-(2**63), "h"),
    (2**31 - 1, "i"), (1e308, "d"), (5e-324, "d"), ("a" * 300, "s"), ("x" * 5000 + ".toml", "s"), ("nul\x00", "s"),
    ("/", "s"), ("..", "s"), (".toml", "s"), ("/dev/null.toml", "s"), ("", "s"), (b"\xff" * 8, "b"),
]
NASTY = st.sampled_from(NASTY_VALUES)
OSC_ARGS = st.one_of(OSC_ARGS, NASTY)
OSC_ADDRESS = st.one_of(
    st.sampled_from(ADDRESSES),
    st.sampled_from(ADDRESSES).map(lambda a: a + "/"),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30).map(lambda s: f"{PREFIX}/{s}"),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30),
)


@st.composite
def osc_messages(draw: st.DrawFn) -> bytes:
    builder = OscMessageBuilder(draw(OSC_ADDRESS))
    args = draw(st.lists(OSC_ARGS, max_size=4))
    if draw(st.booleans()) and args:  # an OSC array of the same values
        builder.add_arg([v for v, _ in args], [t for _, t in args])
    else:
        for value, tag in args:
            builder.add_arg(value, tag)
    try:
        return builder.build().dgram
    except Exception:  # python-osc cannot write every combination (it re-parses what it built)
        reject()


@st.composite
def osc_bundles(draw: st.DrawFn) -> bytes:
    from pythonosc.osc_message import OscMessage

    bundle = OscBundleBuilder(draw(st.sampled_from([IMMEDIATELY, 0, 1.0, 1.7e9])))
    for dgram in draw(st.lists(osc_messages(), min_size=1, max_size=4)):
        bundle.add_content(OscMessage(dgram))
    return bundle.build().dgram


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """A real OSC packet with some bytes changed, cut short or grown: the parser's corner cases."""
    data = bytearray(draw(st.one_of(osc_messages(), osc_bundles())))
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=8))


PACKETS = st.one_of(
    osc_messages(), osc_bundles(), mangled(), st.binary(max_size=200),
    st.binary(max_size=64).map(lambda b: b"/livedrum/" + b), st.binary(max_size=64).map(lambda b: b"#bundle\x00" + b),
)


class OscRig:
    """An OscServer on a real UDP socket in a real (not running) event loop, and a real client socket
    for the replies; datagrams are handed to the protocol as the loop's transport would."""

    def __init__(self, tmp: Path, mode: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.log = human_log(tmp)
        drummer, self.now = make_drummer(mode, log=self.log)
        self.controller = Controller(drummer, now=self.now)
        self.server = OscServer(self.controller, self.log, rate=1e9, burst=1e9, total_rate=1e9)
        self.transport, _ = self.loop.run_until_complete(
            self.loop.create_datagram_endpoint(lambda: self.server, local_addr=("127.0.0.1", 0)))
        self.client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.client.bind(("127.0.0.1", 0))
        self.client.setblocking(False)
        self.addr = self.client.getsockname()

    def replies(self) -> Iterator[bytes]:
        while True:
            try:
                yield self.client.recv(65536)
            except BlockingIOError:
                return

    def close(self) -> None:
        self.transport.close()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()
        self.client.close()
        self.log.close()


@pytest.fixture(scope="module")
def osc_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A context manager for a fresh rig per example (hypothesis reuses a test's fixtures)."""
    import contextlib

    @contextlib.contextmanager
    def make(mode: str) -> Iterator[OscRig]:
        rig = OscRig(tmp_path_factory.mktemp("osc"), mode)
        try:
            yield rig
        finally:
            rig.close()

    return make


@FUZZ
@given(packets=st.lists(PACKETS, min_size=1, max_size=12), mode=st.sampled_from(["follow", "lead"]),
       playing=st.booleans())
def test_osc_server_never_raises_and_keeps_a_playable_state(osc_rig, packets: list[bytes], mode: str,
                                                            playing: bool) -> None:  # noqa: ANN001
    with osc_rig(mode) as rig:
        d = rig.controller.drummer
        if playing:
            d.start(0.0, play_first=False)
        for data in packets:
            rig.now.t += 0.01
            rig.server.datagram_received(data, rig.addr)
            assert_playable(rig.controller)
            if d.playing and d.clock is not None:  # the beat loop goes on with whatever was set
                rig.now.t = max(rig.now.t, d.clock.time_of(d.next_beat - DECIDE_AHEAD_BEATS))
                d.step(d.next_beat)
        stats = rig.server.stats
        assert stats.received == len(packets) and stats.dropped == 0
        for reply in rig.replies():  # every reply and echo is a well-formed OSC packet
            packet = OscPacket(reply)
            assert all(m.message.address.startswith(PREFIX) for m in packet.messages)
        assert rig.log.errors == 0  # the drummer itself never logged an error


@pytest.mark.parametrize("address", ADDRESSES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=st.one_of(st.lists(OSC_ARGS, max_size=3), st.lists(NASTY, min_size=1, max_size=1)), playing=st.booleans())
def test_every_address_with_any_arguments(osc_rig, address: str, args: list, playing: bool) -> None:  # noqa: ANN001
    """Each address of the contract, any arguments: accepted, or refused with an error reply."""
    with osc_rig("lead") as rig:
        if playing:
            rig.controller.drummer.start(0.0, play_first=False)
        builder = OscMessageBuilder(address)
        for value, tag in args:
            builder.add_arg(value, tag)
        try:
            data = builder.build().dgram
        except Exception:  # python-osc cannot write every combination (a NUL inside a string, then more)
            reject()
        stats = rig.server.stats
        rig.server.datagram_received(data, rig.addr)
        assert (stats.accepted, stats.refused) in ((1, 0), (0, 1))
        assert_playable(rig.controller)
        replies = [OscPacket(r).messages[0].message.address for r in rig.replies()]
        if stats.refused:
            assert replies == [f"{PREFIX}/error"]


def test_nasty_values_at_every_address(osc_rig) -> None:  # noqa: ANN001
    """Every address gets every value that once broke a handler, playing and not: all are refused
    or accepted, none raises (deterministic, so that these never depend on the fuzzer's luck)."""
    for playing in (False, True):
        with osc_rig("lead") as rig:
            if playing:
                rig.controller.drummer.start(0.0, play_first=False)
            for address in ADDRESSES:
                for value, tag in NASTY_VALUES:
                    rig.server.datagram_received(_message(address, value, tag), rig.addr)
                    assert_playable(rig.controller)
            stats = rig.server.stats
            assert stats.accepted + stats.refused == len(ADDRESSES) * len(NASTY_VALUES)
            assert all(OscPacket(r) for r in rig.replies())


def _message(address: str, value: object, tag: str) -> bytes:
    builder = OscMessageBuilder(address)
    builder.add_arg(value, tag)
    return builder.build().dgram


def test_garbage_through_the_real_socket_then_status_still_answers(tmp_path: Path) -> None:
    """End to end on the loop: garbage datagrams over UDP, then /livedrum/status is answered."""

    async def main() -> list[bytes]:
        drummer, now = make_drummer("lead")
        server = OscServer(Controller(drummer, now=now), human_log(tmp_path))
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.setblocking(False)
        rng = np.random.default_rng(7)
        try:
            for i in range(200):
                junk = rng.integers(0, 256, int(rng.integers(0, 120)), dtype=np.uint8).tobytes()
                client.sendto(junk if i % 2 else b"/livedrum/tempo\x00,f\x00\x00" + junk[:4], ("127.0.0.1", port))
            client.sendto(OscMessageBuilder(f"{PREFIX}/status").build().dgram, ("127.0.0.1", port))
            got: list[bytes] = []
            for _ in range(200):
                await asyncio.sleep(0.005)
                while True:
                    try:
                        got.append(client.recv(65536))
                    except BlockingIOError:
                        break
                if any(OscPacket(g).messages[0].message.address == f"{PREFIX}/status" for g in got):
                    break
            return got
        finally:
            transport.close()
            client.close()

    got = asyncio.run(main())
    assert any(OscPacket(g).messages[0].message.address == f"{PREFIX}/status" for g in got)


# ---- MIDI in -----------------------------------------------------------------------------------

CH = st.integers(0, 15)
DATA = st.integers(0, 127)
MIDI_MESSAGES = st.one_of(
    st.builds(lambda c, n, v: mido.Message("note_on", channel=c, note=n, velocity=v), CH, DATA, DATA),
    st.builds(lambda c, n, v: mido.Message("note_on", channel=c, note=n, velocity=v), st.sampled_from([0, 9]),
              st.sampled_from([36, 38, 42, 60, 64, 67]), st.sampled_from([0, 1, 64, 127])),
    st.builds(lambda c, n, v: mido.Message("note_off", channel=c, note=n, velocity=v), CH, DATA, DATA),
    st.builds(lambda c, n, v: mido.Message("control_change", channel=c, control=n, value=v), CH, DATA, DATA),
    st.builds(lambda c, p: mido.Message("pitchwheel", channel=c, pitch=p), CH, st.integers(-8192, 8191)),
    st.builds(lambda d: mido.Message("sysex", data=d), st.lists(DATA, max_size=64)),
    st.builds(lambda c, p: mido.Message("program_change", channel=c, program=p), CH, DATA),
    st.builds(lambda c, v: mido.Message("aftertouch", channel=c, value=v), CH, DATA),
    st.builds(lambda c, n, v: mido.Message("polytouch", channel=c, note=n, value=v), CH, DATA, DATA),
    st.builds(lambda p: mido.Message("songpos", pos=p), st.integers(0, 16383)),
    st.builds(lambda s: mido.Message("song_select", song=s), DATA),
    st.builds(lambda t, v: mido.Message("quarter_frame", frame_type=t, frame_value=v), st.integers(0, 7),
              st.integers(0, 15)),
    st.sampled_from([mido.Message(k) for k in ("clock", "start", "stop", "continue", "active_sensing", "reset",
                                               "tune_request")]),
)
# what happens between two messages: time passes (usually forward, sometimes not at all or backwards),
# and sometimes the beat loop decides the next window
EVENTS = st.lists(st.tuples(
    st.one_of(st.floats(0.0, 0.4), st.just(0.0), st.floats(-0.5, 0.0), st.floats(0.4, 6.0)),
    MIDI_MESSAGES,
    st.integers(0, 3),  # windows decided after this message
), min_size=1, max_size=60)


def run_band(drummer: Drummer, now: VirtualTime, events: list, hear) -> None:  # noqa: ANN001
    """Feed (dt, message, steps) to `hear` and run the beat loop on the virtual clock."""
    t = 100.0
    now.t = t
    for dt, message, steps in events:
        t += dt
        now.t = max(now.t, t)  # the loop's clock never goes back; a driver's time stamp may
        hear(t, message)
        for _ in range(steps):
            if not (drummer.playing and drummer.clock is not None):
                break
            b = drummer.next_beat
            now.t = max(now.t, drummer.clock.time_of(b - DECIDE_AHEAD_BEATS))
            drummer.step(b)
            if drummer.clock is not None:
                for w in (b - 1, b):
                    features = drummer.band.window(drummer.clock, w)
                    assert np.isfinite(features).all(), (w, features)
    if drummer.clock is not None:
        b = drummer.next_beat
        assert np.isfinite(drummer.band.window(drummer.clock, b)).all()
        assert np.isfinite(drummer.band.window(drummer.clock, b - 1)).all()


@FUZZ
@given(events=EVENTS, mode=st.sampled_from(["follow", "lead"]),
       tap_note=st.one_of(st.none(), st.sampled_from([36, 60])), tap_cc=st.one_of(st.none(), st.sampled_from([64, 1])))
def test_drummer_hears_any_midi_without_raising(events: list, mode: str, tap_note: int | None,
                                                tap_cc: int | None) -> None:
    drummer, now = make_drummer(mode, tap_note=tap_note, tap_cc=tap_cc)
    if mode == "lead":
        drummer.start(100.0, play_first=False)
    run_band(drummer, now, events, drummer.hear)
    assert 30.0 <= drummer.cfg.bpm <= 300.0


@FEW
@given(events=EVENTS, mode=st.sampled_from(["follow", "lead"]), controls=st.sampled_from(["beatbuddy", "generic"]))
def test_session_with_controls_and_recording_hears_any_midi(tmp_path_factory, events: list, mode: str,
                                                            controls: str) -> None:  # noqa: ANN001
    """The daemon's whole MIDI-in path: the control map first (footswitches, CCs steer the drummer
    through the controller), the band to the drummer, everything into the recording."""
    from livedrum.live.recorder import Recorder
    from livedrum.live.session import RecordingTap

    tmp = tmp_path_factory.mktemp("session")
    log = human_log(tmp)
    drummer, now = make_drummer(mode, log=log)
    controller = Controller(drummer, now=now)
    recording = RecordingTap(Recorder(tmp / "rec.mid", 120.0), 120.0, 100.0)
    session = Session(drummer, drummer.scheduler, log, recording)
    session.route = _control_router(load_controls(controls), controller, None, log)
    if mode == "lead":
        drummer.start(100.0, play_first=False)
    try:
        run_band(drummer, now, events, session.hear_now)
        assert_playable(controller)
    finally:
        session.shutdown()
        log.close()
    errors = [line for line in (tmp / "log.jsonl").read_text().splitlines() if '"event": "error"' in line]
    assert not errors, errors  # hear_now swallows exceptions as errors: there must be none
    mido.MidiFile(tmp / "rec.mid")  # and the recording is a valid MIDI file
