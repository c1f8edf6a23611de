"""MIDI ports for the live drummer: rtmidi through mido, on ALSA, JACK, CoreMIDI or Windows.

One virtual output (or a connection to an existing destination) for the drums, and an
`InputHub` that keeps every matching band input open as ports come and go. Errors are
built-in types with one clear line: `ValueError` for a bad name, `OSError` when the MIDI
system itself cannot be reached.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TypeVar

import mido
import mido.ports
import rtmidi

from livedrum.signalmask import mask_kept, signals_held

BACKENDS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "windows": "WINDOWS_MM"}
RTMIDI = "mido.backends.rtmidi"

MessageHandler = Callable[[mido.Message, float], None]
Client = TypeVar("Client", rtmidi.MidiIn, rtmidi.MidiOut)

# python-rtmidi's MidiIn.close_port() drops the input callback before it closes the port; an
# input thread already waiting for the GIL to run it then runs a freed object (crashes seen with
# python-rtmidi 1.5.8 under JACK). The base class' close_port() closes the port only.
_close_port_keeping_callback = rtmidi.MidiIn.__base__.close_port
_DRAIN_S = 0.02  # the GIL released this long lets a callback already in flight finish
# JACK hands what was sent to the graph at its next cycle; a port unregistered right then corrupts it at
# the receiver (seen with 16 messages then close: 16 copies of the first). Wait this long after a send.
_JACK_FLUSH_S = 0.1
_quiet_lock = threading.Lock()
# Under JACK, rtmidi runs an input callback inside JACK's realtime process cycle, reading the cycle's
# event buffer while it waits for the GIL: a thread holding the GIL past the cycle makes it read a
# buffer JACK has reused (chords arrive as copies of their first note, and in long shows the daemon
# crashed in rtmidi's jackProcessIn). So JACK inputs get no callback: rtmidi queues in the cycle,
# without Python, and a thread of ours collects the queue this often.
JACK_POLL_S = 0.001


@dataclass
class PortList:
    """What a backend offers: inputs are sources to listen to, outputs are destinations to play into."""

    inputs: list[str]
    outputs: list[str]


def midi_backend(name: str | None = None) -> mido.Backend:
    """mido's rtmidi backend on the API that `--backend NAME` names; None: rtmidi's default for the platform."""
    backend = mido.Backend(RTMIDI, load=True)
    if name is None:
        return backend
    api = BACKENDS.get(name.lower())
    if api is None:
        raise ValueError(f"unknown MIDI backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    compiled = backend.module.get_api_names()
    if api not in compiled:
        here = ", ".join(key for key, value in BACKENDS.items() if value in compiled) or "none"
        raise ValueError(f"MIDI backend {name!r} is not available on this machine; rtmidi here has: {here}")
    return mido.Backend(RTMIDI, api=api, load=True)


def list_ports(backend: mido.Backend) -> PortList:
    """Every input and output port the backend sees now (our own virtual ports included)."""
    api = _rtapi(backend)
    midi_in = _open_client(rtmidi.MidiIn, api, "livedrum-ports")
    try:
        midi_out = _open_client(rtmidi.MidiOut, midi_in.get_current_api(), "livedrum-ports")
        try:
            return PortList(inputs=midi_in.get_ports(), outputs=midi_out.get_ports())
        finally:
            _delete(midi_out)
    finally:
        _delete(midi_in)


def describe(ports: PortList) -> str:
    """The listing `livedrum ports` prints: one port per line under two headings."""
    lines = ["MIDI inputs (listen with: livedrum run --in NAME):"]
    lines += [f"  {name}" for name in ports.inputs] or ["  (none)"]
    lines.append("MIDI outputs (play into with: livedrum run --connect NAME):")
    lines += [f"  {name}" for name in ports.outputs] or ["  (none)"]
    return "\n".join(lines)


def open_output(backend: mido.Backend, name: str = "livedrum", connect: str | None = None,
                client_name: str = "livedrum") -> mido.ports.BaseOutput:
    """A virtual output port called `name` that synths connect to; or, with `connect`, our port `name`
    connected to the first existing destination whose name contains `connect` (any case)."""
    return RtMidiOutput(name, api=_rtapi(backend), client_name=client_name, connect=connect)


class RtMidiOutput(mido.ports.BaseOutput):
    """A mido output on its own rtmidi client. mido's rtmidi backend names the client only for
    virtual ports; this names it `client_name` for connected ones too, so patchbays show who plays."""

    def _open(self, api: int = rtmidi.API_UNSPECIFIED, client_name: str = "livedrum",
              connect: str | None = None, **kwargs: object) -> None:
        rt = _open_client(rtmidi.MidiOut, api, client_name)
        try:
            with signals_held():
                self._open_port(rt, connect)
        except rtmidi.RtMidiError as err:
            _delete(rt)
            raise OSError(f"cannot open MIDI output {connect or self.name!r}: {err}") from err
        except BaseException:
            _delete(rt)
            raise
        self._rt = rt
        self._connect = connect
        self._lost = False
        self._jack = rt.get_current_api() == rtmidi.API_UNIX_JACK
        self._last_send = -float("inf")
        self._device_type = f"rtmidi/{rtmidi.get_api_name(rt.get_current_api())}"

    @property
    def on_jack(self) -> bool:
        """Whether this output is a JACK client."""
        return self._jack

    def _open_port(self, rt: rtmidi.MidiOut, connect: str | None) -> None:
        self._own_name = self.name  # our port's name; connected, `name` says where the drums go
        if connect is None:
            rt.open_virtual_port(self.name)
            return
        destinations = rt.get_ports()
        index = _first_match(destinations, connect)
        if index is None:
            raise ValueError(f"no MIDI output matches {connect!r}; outputs: {', '.join(destinations) or '(none)'}")
        rt.open_port(index, self._own_name)
        self.name = destinations[index]

    def poll(self) -> str | None:
        """Hot-plug for a connected output (`connect`): a line for the log when its destination
        vanished (a synth quit, a cable pulled; the drums go nowhere meanwhile) and when one matching
        `connect` is back and connected again. A virtual port waits for others to connect: None."""
        if self._connect is None or self.closed:
            return None
        listed = self._rt.get_ports()
        if not self._lost:
            if self.name in listed:
                return None
            self._lost = True
            return f"output lost: {self.name} (will reconnect)"
        index = _first_match(listed, self._connect)
        if index is None:
            return None
        try:
            with signals_held():
                self._rt.close_port()
                self._rt.open_port(index, self._own_name)
        except rtmidi.RtMidiError as err:
            return f"output unavailable: {listed[index]} ({err}); will retry"
        self.name, self._lost = listed[index], False
        return f"output reconnected: {self.name}"

    def _send(self, msg: mido.Message) -> None:
        self._rt.send_message(msg.bytes())
        self._last_send = time.monotonic()

    def _close(self) -> None:
        """Let the last messages (the panic on exit) leave before the port goes."""
        if self._jack:
            time.sleep(max(0.0, self._last_send + _JACK_FLUSH_S - time.monotonic()))
        self._rt.close_port()
        _delete(self._rt)


class InputHub:
    """Keeps every input port whose name contains one of `patterns` (any case) open, with hot-plug:
    `poll()` opens new matches, lets go of ports that vanished and reopens them when they return.

    `on_message(message, time.monotonic())` runs on the MIDI system's thread (rtmidi's, or JACK's
    process thread), with the time taken first thing on arrival; it must only hand the message on
    (e.g. `call_soon_threadsafe`) and must not raise. rtmidi drops sysex, active sensing and (unless
    `timing`) clock before Python sees them; bytes mido cannot parse are dropped. Ports whose name contains one of
    `exclude` (our own output) are never opened, so the drums cannot feed back into the band.

    Under JACK no callback is set (rtmidi would run it inside JACK's process cycle and, waiting for the
    GIL, read a buffer JACK has reused: corrupted chords, and crashes in long shows). rtmidi queues
    there without Python, and our `livedrum-midi-in` thread collects the queue every millisecond.
    """

    def __init__(self, backend: mido.Backend, patterns: list[str], on_message: MessageHandler,
                 exclude: Collection[str] = (), client_name: str = "livedrum", timing: bool = False) -> None:
        self._patterns = [p.lower() for p in patterns]
        self._timing = timing  # pass MIDI clock, start, stop and song position on (--clock midi)
        self._exclude = [e.lower() for e in exclude]
        self._on_message = on_message
        self._client_name = client_name
        self._scanner = _open_client(rtmidi.MidiIn, _rtapi(backend), client_name)
        self._api = self._scanner.get_current_api()
        self._open: dict[str, rtmidi.MidiIn] = {}
        self._lost: set[str] = set()
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._polled = self._api == rtmidi.API_UNIX_JACK  # no callback inside JACK's cycle: see JACK_POLL_S
        self._poller: threading.Thread | None = None

    @property
    def open_names(self) -> list[str]:
        """The input ports open now, in the order they were opened."""
        with self._lock:
            return list(self._open)

    def poll(self) -> list[str]:
        """One scan; returns what changed as lines for the log. Cheap when nothing changed; opening a
        port takes a few milliseconds, letting one go 20."""
        with self._lock:
            if self._closed:
                return []
            listed = self._scanner.get_ports()
            changes = []
            gone = [name for name in self._open if name not in listed]
            if gone:
                _close_inputs([self._open.pop(name) for name in gone])
            for name in gone:
                self._lost.add(name)
                changes.append(f"input lost: {name} (will reconnect)")
            for name in listed:
                if name in self._open or not self._wanted(name):
                    continue
                try:
                    self._open[name] = self._open_input(name)
                except OSError as err:
                    if name not in self._failed:  # say it once, keep trying quietly
                        self._failed.add(name)
                        changes.append(f"input unavailable: {name} ({err}); will retry")
                    continue
                self._failed.discard(name)
                verb = "reconnected" if name in self._lost else "connected"
                self._lost.discard(name)
                changes.append(f"input {verb}: {name}")
            return changes

    def close(self) -> None:
        """Close every input and the scanner; safe to call again."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            inputs, self._open = list(self._open.values()), {}
            _close_inputs(inputs)
            _delete(self._scanner)

    def __enter__(self) -> InputHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wanted(self, name: str) -> bool:
        low = name.lower()
        return any(p in low for p in self._patterns) and not any(e in low for e in self._exclude)

    def _open_input(self, name: str) -> rtmidi.MidiIn:
        """A client of our own listening to the port `name` (rtmidi opens one port per client)."""
        with signals_held():
            rt = rtmidi.MidiIn(self._api, self._client_name)
        try:
            ports = rt.get_ports()
            if name not in ports:
                raise OSError("gone before it could be opened")
            rt.ignore_types(sysex=True, timing=not self._timing, active_sense=True)
            if self._polled:
                self._start_poller()
            else:
                rt.set_callback(self._arrived)
            with signals_held():
                rt.open_port(ports.index(name), "in")
        except rtmidi.RtMidiError as err:
            _close_inputs([rt])
            raise OSError(str(err)) from err
        except BaseException:
            _close_inputs([rt])
            raise
        return rt

    def _arrived(self, event: tuple[list[int], float], data: object = None, now: float | None = None) -> None:
        """On the MIDI thread: stamp, parse, hand on; nothing else."""
        now = time.monotonic() if now is None else now
        try:
            message = mido.Message.from_bytes(event[0])
        except ValueError:  # undefined status bytes, stray data: not a message
            return
        self._on_message(message, now)

    def _start_poller(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_inputs, name="livedrum-midi-in", daemon=True)
            self._poller.start()

    def _poll_inputs(self) -> None:
        """JACK inputs: collect what rtmidi queued, every millisecond. Messages collected together are
        stamped back from now by rtmidi's own gaps between them (taken from JACK's frame times)."""
        last = time.monotonic()
        while not self._closed:
            time.sleep(JACK_POLL_S)
            with self._lock:
                if self._closed:
                    return
                for rt in self._open.values():
                    batch = []
                    while (event := rt.get_message()) is not None:
                        batch.append(event)
                    if not batch:
                        continue
                    now = time.monotonic()
                    behind = [0.0] * len(batch)  # seconds each message came before the last one
                    for i in range(len(batch) - 2, -1, -1):
                        behind[i] = behind[i + 1] + max(0.0, batch[i + 1][1])
                    for event, back in zip(batch, behind):
                        self._arrived(event, now=now - min(back, now - last))
                last = time.monotonic()


def _close_inputs(inputs: list[rtmidi.MidiIn]) -> None:
    """Close inputs without racing their threads: close the ports (no new callbacks), release the GIL
    so a callback already in flight can finish, then drop the callbacks and the clients."""
    for rt in inputs:
        _close_port_keeping_callback(rt)
    time.sleep(_DRAIN_S)
    for rt in inputs:
        rt.cancel_callback()
        _delete(rt)


def _delete(rt: rtmidi.MidiIn | rtmidi.MidiOut) -> None:
    """Close an rtmidi client; this thread's signal mask stays as it was (see `mask_kept`)."""
    with mask_kept():
        rt.delete()


def _first_match(names: list[str], part: str) -> int | None:
    low = part.lower()
    return next((i for i, name in enumerate(names) if low in name.lower()), None)


def _rtapi(backend: mido.Backend) -> int:
    """The rtmidi API constant of a backend from `midi_backend`."""
    if backend.name != RTMIDI:
        raise ValueError(f"livedrum's MIDI ports need mido's rtmidi backend, not {backend.name}")
    if backend.api is None:
        return rtmidi.API_UNSPECIFIED
    api = getattr(rtmidi, f"API_{backend.api}", None)
    if api is None:
        raise ValueError(f"unknown rtmidi API {backend.api!r}")
    return api


def _open_client(kind: type[Client], api: int, client_name: str) -> Client:
    """A new rtmidi client, or one clear OSError when the MIDI system cannot be reached (libjack and
    alsa-lib print their own account of that on stderr: silenced, we raise ours)."""
    try:
        with _quiet_stderr(), signals_held():
            return kind(api, client_name)
    except rtmidi.RtMidiError as err:
        raise OSError(_unreachable(api, str(err))) from err


def _unreachable(api: int, reason: str) -> str:
    if api == rtmidi.API_UNIX_JACK or "jack" in reason.lower():
        server = os.environ.get("JACK_DEFAULT_SERVER")
        named = f" named {server!r}" if server else ""
        return f"no JACK server{named} is running (start one: jackd -d dummy -r 48000 -p 64, or qjackctl)"
    if api == rtmidi.API_LINUX_ALSA or "alsa" in reason.lower():
        return "the ALSA sequencer is not available (no /dev/snd/seq: load snd-seq, or use --backend jack)"
    return f"cannot reach the MIDI system: {reason}"


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment. Process-wide, so only used around opening a
    client (milliseconds, at start-up or on a command), never on the path of a message."""
    with _quiet_lock:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 2)
            finally:
                os.close(devnull)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
