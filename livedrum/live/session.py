"""One live performance: the drummer's tasks on an event loop, and the panic on every way out.

Threads (rtmidi callbacks) reach the loop only through `handoff`, a bounded
`call_soon_threadsafe`; the recording is written by one worker thread so that a slow disk never
delays a note; Ctrl-C, SIGTERM, the end of a demo or a failing task all leave through the same
`finally`: note-offs for everything sounding, all-notes-off, the recording closed.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mido

from livedrum.live.clock import BeatClock
from livedrum.live.drummer import Drummer
from livedrum.live.logs import EventLog
from livedrum.live.recorder import Recorder
from livedrum.live.scheduler import Scheduler
from livedrum.live.watchdog import Watchdog

INBOX_LIMIT = 4096  # band messages handed over but not yet heard; beyond this they are dropped
IGNORED = {"clock", "active_sensing", "sysex", "songpos", "start", "stop", "continue", "reset"}
QUIET_GAP_SECONDS = 0.025  # the recording is written when no note is due this soon
CLOCK_TYPES = frozenset({"clock", "start", "continue", "stop", "songpos"})  # for --clock midi


class RecordingTap:
    """Band in and drums out, into a MIDI file written while playing (at most a beat is lost)."""

    def __init__(self, recorder: Recorder, bpm: float, origin: float) -> None:
        self.recorder = recorder
        self.clock = BeatClock(origin, bpm)  # the file's own timeline, continuous across songs
        self._batch: list[tuple[str, float, Any]] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livedrum-recorder")

    def message(self, t: float, message: mido.Message) -> None:
        if message.type not in IGNORED and not message.is_meta:
            self._batch.append(("add", self.clock.beat_at(t), message))

    def tempo(self, t: float, bpm: float) -> None:
        beat = self.clock.beat_at(t)
        self.clock.set_tempo(bpm, beat)
        self._batch.append(("tempo", beat, bpm))

    def flush(self, now: float) -> asyncio.Future:
        batch, self._batch = self._batch, []
        upto = self.clock.beat_at(now) - 0.25  # drums are added when sent: all before this are in
        return asyncio.get_running_loop().run_in_executor(self._writer, self._write, batch, upto)

    def _write(self, batch: list[tuple[str, float, Any]], upto: float | None) -> None:
        for kind, beat, item in batch:
            if kind == "add":
                self.recorder.add(beat, item)
            else:
                self.recorder.tempo(beat, item)
        self.recorder.flush(upto)

    def close(self) -> None:
        """Everything buffered goes to disk now (called from the panic path, loop or not)."""
        batch, self._batch = self._batch, []
        self._writer.shutdown(wait=True)
        self._write(batch, None)
        self.recorder.close()


class Session:
    """Runs a drummer with its scheduler, recording and view until a signal or the end."""

    def __init__(self, drummer: Drummer, scheduler: Scheduler, log: EventLog,
                 recording: RecordingTap | None = None) -> None:
        self.drummer, self.scheduler, self.log = drummer, scheduler, log
        self.recording = recording
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight = 0
        self._lock = threading.Lock()
        self.exit_reason = ""
        self.route: Callable[[float, mido.Message], bool] | None = None  # controls: True = consumed
        self.clock_in: Callable[[float, mido.Message], None] | None = None  # --clock midi: clock and transport
        if recording is not None:
            drummer.on_band.append(recording.message)
            drummer.on_tempo.append(recording.tempo)
            scheduler.listeners.append(recording.message)

    def handoff(self, message: mido.Message, t: float) -> None:
        """For input threads: hand a message and its arrival time to the loop, or drop it when
        the loop is already that far behind (a flood must not eat memory or stall the drums)."""
        loop = self._loop
        if loop is None or (message.type in IGNORED and not (self.clock_in and message.type in CLOCK_TYPES)):
            return
        with self._lock:
            if self._inflight >= INBOX_LIMIT:
                self.drummer.dropped_input += 1
                return
            self._inflight += 1
        try:
            loop.call_soon_threadsafe(self._take, t, message)
        except RuntimeError:  # the loop has closed: we are shutting down
            pass

    def _take(self, t: float, message: mido.Message) -> None:
        with self._lock:
            self._inflight -= 1
        self.hear_now(t, message)

    def hear_now(self, t: float, message: mido.Message) -> None:
        """On the loop: give the drummer one band message (a replay calls this directly), unless
        it is a control (a footswitch, a mapped CC) that `route` consumes."""
        try:
            if message.type in CLOCK_TYPES:  # the clock followed, never the band's notes
                if self.clock_in is not None:
                    self.clock_in(t, message)
                return
            if self.route is not None and self.route(t, message):
                return
            self.drummer.hear(t, message)
        except Exception as exc:  # one odd message must not stop the drummer
            self.log("error", line=f"ignored a band message ({message!r}): {exc}")

    async def _flush_recording(self) -> None:
        """Once a beat; a full or failing disk is said once (and again when it recovers), the
        events wait in memory for the next flush, and the drums play on."""
        assert self.recording is not None
        failing = False
        while True:
            await asyncio.sleep(min(1.0, 60.0 / self.drummer.cfg.bpm))
            await self.scheduler.quiet(QUIET_GAP_SECONDS)  # the writer holds the GIL: not next to a note
            try:
                await self.recording.flush(time.monotonic())
            except OSError as exc:
                if not failing:
                    self.log("error", line=f"recording cannot be written ({exc}); still playing, will retry")
                failing = True
            else:
                if failing:
                    self.log("warning", line="recording is being written again")
                failing = False

    async def run(self, *extra: Coroutine[Any, Any, Any], until: Awaitable[Any] | None = None,
                  ready: Callable[[], None] | None = None) -> int:
        """Play until SIGINT/SIGTERM, `until` completes, or a task fails; always panic on the
        way out. Returns the exit status (0, or 1 after a fatal error). `ready()` is called once
        SIGINT and SIGTERM are ours: a stop sent the moment the daemon says it is ready is taken."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread, or not Unix
                pass
        if ready is not None:
            ready()
        self.watchdog = Watchdog(self.log)
        coros: list[Coroutine[Any, Any, Any]] = [self.scheduler.run(), self.drummer.run(), self.watchdog.heartbeat(),
                                                 *extra]
        if self.recording is not None:
            coros.append(self._flush_recording())
        tasks = [asyncio.ensure_future(c) for c in coros]
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait()), *tasks]
        if until is not None:
            waits.append(asyncio.ensure_future(until))
        status = 0
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                if fut in tasks and not fut.cancelled() and fut.exception() is not None:
                    exc = fut.exception()
                    self.log("error", line=f"fatal: {type(exc).__name__}: {exc}")
                    status = 1
            self.exit_reason = "signal" if stop.is_set() else ("error" if status else "end")
        finally:
            for fut in waits:
                fut.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            self.shutdown()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass
        return status

    def shutdown(self) -> None:
        """Silence and save: note-offs and all-notes-off, then the recording to disk."""
        self._loop = None
        try:
            self.scheduler.drop_pending()
            self.drummer.halt_clock()
            self.scheduler.panic()
        finally:
            if self.recording is not None:
                try:
                    self.recording.close()
                    self.log("recording", line=f"recording saved: {self.recording.recorder.path}")
                except OSError as exc:
                    self.log("error", line=f"recording: {exc}")
