"""Send every planned MIDI message at its time, and never leave a note sounding.

Inference happens elsewhere, ahead of time; the scheduler only sends what is already decided.
It waits for absolute deadlines on the monotonic clock: an asyncio sleep until just before, then
a short spin for the last stretch (epoll wakes a millisecond late at best). Every note-on gets
its note-off; `panic()` (called in a `finally` by the daemon) silences whatever still sounds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import mido

SPIN_SECONDS = 0.003  # wake this early from the asyncio sleep, then spin (note-ons only): asyncio wakes
# up to a millisecond late by design (epoll counts whole milliseconds) and, measured on a loaded 2-core
# machine at SCHED_FIFO, 2.2 ms late at p99 (2.4 max in 1,300 waits); 1.5 ms left 8% of wakes late
LATE_SECONDS = 0.001  # a message sent later than this after its planned time counts as late


@dataclass(order=True)
class Planned:
    time: float
    seq: int
    message: mido.Message = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    precise: bool = field(default=True, compare=False)  # a note-off may come a millisecond late: no spin


@dataclass
class SendStats:
    """What a musician and a benchmark want to know about the sending path."""

    notes: int = 0  # note-ons sent
    messages: int = 0
    late: int = 0  # messages later than LATE_SECONDS
    failures: int = 0  # sends the output refused (port gone)
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=20000))  # seconds, per message


Listener = Callable[[float, mido.Message], None]


class Scheduler:
    """A heap of planned messages and the coroutine that sends them on time."""

    def __init__(self, send: Callable[[mido.Message], None], on_error: Callable[[str], None] | None = None) -> None:
        self._send = send
        self._on_error = on_error or (lambda line: None)
        self._heap: list[Planned] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._pending_off: dict[tuple[int, int], Planned] = {}
        self.sounding: Counter[tuple[int, int]] = Counter()
        self.channels: set[int] = set()
        self.listeners: list[Listener] = []
        self.stats = SendStats()
        self._failing = False
        self._woke = 0.0  # when the send loop last came back from its wait: a late note says why
        self.on_late: Callable[[float, float, float, float], None] | None = None  # planned, began, sent, woke

    def plan(self, t: float, message: mido.Message, precise: bool = True) -> Planned:
        entry = Planned(t, next(self._seq), message, precise=precise)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._wake.set()
        return entry

    def plan_note(self, on: float, off: float, channel: int, note: int, velocity: int) -> None:
        """A note-on and its note-off; a retrigger before the previous note's end ends it first."""
        key = (channel, note)
        prev = self._pending_off.get(key)
        if prev is not None and not prev.cancelled and prev.time > on:
            prev.cancelled = True
            self.plan(on, mido.Message("note_off", channel=channel, note=note, velocity=0))
        self.plan(on, mido.Message("note_on", channel=channel, note=note, velocity=velocity))
        # drums are one-shots: the note-off's exact time is inaudible, so it is sent without a spin
        self._pending_off[key] = self.plan(max(off, on), mido.Message("note_off", channel=channel, note=note),
                                           precise=False)

    @property
    def pending(self) -> int:
        return sum(not p.cancelled for p in self._heap)

    def next_time(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].time if self._heap else None

    async def quiet(self, gap: float, patience: float = 0.5) -> None:
        """Return when nothing precise is due within `gap` seconds (just after a note went out, most
        often), or after `patience` seconds of very busy drums. Work that holds the GIL for a while
        (writing the recording) waits for such a moment, so that it does not delay a note."""
        give_up = time.monotonic() + patience
        while True:
            now = time.monotonic()
            if now >= give_up:
                return
            due = [p.time for p in self._heap if p.precise and not p.cancelled and p.time < now + gap]
            if not due:
                return
            await asyncio.sleep(max(due) - now + 0.0005)

    async def run(self) -> None:
        """Send forever; cancel the task to stop (then call `panic`)."""
        while True:
            t = self.next_time()
            if t is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            spin = SPIN_SECONDS if self._heap[0].precise else 0.0
            ahead = t - time.monotonic() - spin
            if ahead > 0:
                self._wake.clear()
                try:  # an earlier message planned meanwhile wakes us
                    await asyncio.wait_for(self._wake.wait(), ahead)
                    continue
                except TimeoutError:
                    continue
            self._woke = time.monotonic()
            while time.monotonic() < t:
                pass
            self.send_due(time.monotonic())

    def send_due(self, now: float) -> None:
        """Send everything planned up to `now`, in planned order."""
        while self._heap and self._heap[0].time <= now:
            entry = heapq.heappop(self._heap)
            if not entry.cancelled:
                self._deliver(entry.message, entry.time)

    def _deliver(self, message: mido.Message, planned: float) -> None:
        began = time.monotonic()
        try:
            self._send(message)
            self._failing = False
        except Exception as exc:  # a vanished port must not stop the drummer
            self.stats.failures += 1
            if not self._failing:
                self._on_error(f"output refused a message: {exc}")
            self._failing = True
        sent = time.monotonic()
        lateness = sent - planned
        stats = self.stats
        stats.messages += 1
        stats.lateness.append(lateness)
        if lateness > LATE_SECONDS and message.type == "note_on":
            stats.late += 1
            if self.on_late is not None:
                self.on_late(planned, began, sent, self._woke)
        if message.type == "note_on" and message.velocity > 0:
            stats.notes += 1
            self.sounding[(message.channel, message.note)] += 1
            self.channels.add(message.channel)
        elif message.type in ("note_on", "note_off"):
            key = (message.channel, message.note)
            if self.sounding[key] > 0:
                self.sounding[key] -= 1
            if self.sounding[key] == 0:
                del self.sounding[key]
        for listener in self.listeners:
            listener(planned, message)

    def send_now(self, message: mido.Message) -> None:
        self._deliver(message, time.monotonic())

    def drop_pending(self) -> None:
        """Forget everything planned (the drummer stops); sounding notes are ended right away."""
        self._heap.clear()
        self._pending_off.clear()
        now = time.monotonic()
        for (channel, note), count in list(self.sounding.items()):
            for _ in range(count):
                self._deliver(mido.Message("note_off", channel=channel, note=note), now)

    def panic(self) -> None:
        """Note-offs for everything sounding, then all-notes-off on every channel used."""
        self.drop_pending()
        now = time.monotonic()
        for channel in sorted(self.channels | {9}):  # the drum channel, even before a first note
            self._deliver(mido.Message("control_change", channel=channel, control=123, value=0), now)
