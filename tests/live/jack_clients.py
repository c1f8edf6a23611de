"""JACK MIDI clients for tests, made with plain mido (not livedrum's ports): a band that plays into
the graph, and a capture that listens. Each is its own JACK client; use them with `jack_server`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import mido
import mido.ports

JACK = "mido.backends.rtmidi/UNIX_JACK"
PROBE = mido.Message("control_change", channel=15, control=119, value=0)


def jack_backend() -> mido.Backend:
    return mido.Backend(JACK, load=True)


class Heard:
    """Messages with their arrival times (time.monotonic()); `add` fits `InputHub`'s on_message too."""

    def __init__(self) -> None:
        self.received: list[tuple[mido.Message, float]] = []
        self._changed = threading.Condition()

    def add(self, message: mido.Message, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        with self._changed:
            self.received.append((message, t))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 2.0) -> list[tuple[mido.Message, float]]:
        """At least `count` messages, waiting up to `timeout` seconds for them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} MIDI messages within {timeout:g} s, got {self.received}")
            return list(self.received)

    @property
    def messages(self) -> list[mido.Message]:
        with self._changed:
            return [m for m, _ in self.received]

    def clear(self) -> None:
        with self._changed:
            self.received.clear()


def until_heard(send: Callable[[mido.Message], object], heard: Heard, timeout: float = 2.0) -> None:
    """Send PROBE until it arrives, then forget what arrived. A new JACK connection carries messages
    only from a later cycle on, so what is sent right after connecting can be lost: call this first."""
    deadline = time.monotonic() + timeout
    while True:
        send(PROBE)
        try:
            heard.wait_for(1, timeout=0.01)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no message got through within {timeout:g} s") from None
    time.sleep(0.02)  # a probe sent before the one heard may still be on its way
    heard.clear()


@contextmanager
def band_port(name: str, client_name: str = "band") -> Iterator[mido.ports.BaseOutput]:
    """A virtual JACK MIDI output `client_name:name`, as a keyboard or a sequencer offers one.
    Leaving the block closes it: an unplug. Use distinct client names: JACK renames duplicates."""
    port = jack_backend().open_output(name, virtual=True, client_name=client_name)
    try:
        yield port
    finally:
        port.close()


@contextmanager
def capture_port(name: str = "capture", client_name: str = "capture", source: str | None = None) -> Iterator[Heard]:
    """Collect what arrives, as (message, arrival time). Without `source`: a virtual JACK MIDI input
    `client_name:name` (a destination, as a synth offers one). With `source`: listen to the first
    existing output port whose name contains it. Stop sending before leaving the block."""
    heard = Heard()
    backend = jack_backend()
    if source is None:
        port = backend.open_input(name, virtual=True, client_name=client_name, callback=heard.add)
    else:
        names = [n for n in backend.get_input_names() if source.lower() in n.lower()]
        if not names:
            raise AssertionError(f"no JACK MIDI source contains {source!r}: {backend.get_input_names()}")
        port = backend.open_input(names[0], callback=heard.add)
    try:
        yield heard
    finally:
        port.close()
