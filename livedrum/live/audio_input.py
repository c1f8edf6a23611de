"""The band through a sound card in the daemon (`livedrum run --audio-in`): capture, analysis, hand-off.

PortAudio's callback only stamps each block and queues it (it must never block or run Python for
long); one worker thread analyses it (onsets, register levels, the beat tracker's envelope) and
hands plain results to the event loop with a bounded `call_soon_threadsafe`, as `Session.handoff`
does for MIDI. On the loop the results go into the `AudioBand` the drummer reads, and the first
onset brings the drums in (follow mode). A watch on the loop says overflows (counted, at most one
line every few seconds) and a device that stops delivering (one line: the drums keep playing at
the last tempo) and tries to open it again every few seconds until it is back.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from livedrum.audio.listener import AudioBand, MergedBand
from livedrum.audio.onsets import DEFAULT_METHOD, MAX_HOP, Analyzer, Onset
from livedrum.audio.source import CaptureSource, stuck
from livedrum.live.audiosync import AudioBeatSync
from livedrum.signalmask import signals_held

QUEUE_BLOCKS = 512  # blocks captured but not yet analysed (seconds of audio); beyond: counted as overflow
INFLIGHT_LIMIT = 1024  # analysed blocks handed to the loop but not yet taken
LOST_AFTER_S = 1.5  # no block for this long: the device is gone
RETRY_EVERY_S = 2.0
OVERFLOW_LOG_EVERY_S = 10.0
DRIFT_PER_S = 2e-4  # how fast the sound card's clock may run slow against time.monotonic

Log = Callable[..., None]
Results = tuple[list[Onset], np.ndarray, np.ndarray]


class StreamClock:
    """Sample counts to `time.monotonic()`: the block whose end reached us soonest after its last
    sample sets the offset (a late callback only adds lateness, never removes it), and the offset
    may creep forward slowly, so the sound card's own clock drift is followed."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.origin: float | None = None  # monotonic time of sample 0
        self._seen = 0.0

    def mark(self, now: float, frames_end: int) -> float:
        candidate = now - frames_end / self.rate
        if self.origin is None:
            self.origin = candidate
        else:
            self.origin = min(self.origin + DRIFT_PER_S * (now - self._seen), candidate)
        self._seen = now
        return self.origin


class AudioInput:
    """One sound card input feeding the drummer: opened at start (a failure is the caller's error),
    reopened in the background when it vanishes mid-show."""

    def __init__(self, drummer, log: Log, device: str | int | None, rate: int | None = None,  # noqa: ANN001
                 block: int = 256, channel: int | None = None, method: str = DEFAULT_METHOD,
                 hop: int = MAX_HOP) -> None:
        self.drummer, self.log = drummer, log
        self.spec = (device, rate, block, channel)
        self.method, self.hop = method, hop
        self.band = AudioBand()
        self.merged = MergedBand(drummer.band, self.band)
        drummer.band = self.merged
        self.sync: AudioBeatSync | None = None
        self.source = self._open()  # ValueError / OSError: a missing or refusing device, said in one line
        Analyzer(self.source.rate, hop, method)  # a bad method or rate fails here, before any stream
        self.dropped = 0  # blocks the worker could not keep up with
        self.errors = 0  # blocks whose analysis failed
        self._queue: queue.Queue = queue.Queue(QUEUE_BLOCKS)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._inflight = 0
        self._generation = 0  # a reopened stream starts a new sample count and analysis
        self.last_block = time.monotonic()
        self.lost = False
        self._worker = threading.Thread(target=self._work, name="livedrum-audio", daemon=True)
        self._worker.start()
        self._start(self.source)

    @property
    def name(self) -> str:
        return self.source.name

    def follow_tempo(self, bpm: float) -> AudioBeatSync:
        """Tempo and phase from the audio (`--clock internal` without `--bpm`): the drummer's sync."""
        self.sync = AudioBeatSync(self.hop / self.source.rate, bpm, self.log)
        return self.sync

    # ---- PortAudio's thread -------------------------------------------------------------------

    def _open(self) -> CaptureSource:
        device, rate, block, channel = self.spec
        try:
            return CaptureSource(device, rate, block, channel)
        except (ValueError, OSError):
            raise
        except Exception as exc:  # PortAudio's own errors: no default input, a device that refuses
            what = "the default audio input" if device is None else f"audio input {device!r}"
            raise OSError(f"{what} cannot be opened: {str(exc).splitlines()[0]} (see livedrum ports)") from exc

    def _start(self, source: CaptureSource) -> None:
        generation = self._generation

        def sink(block: np.ndarray, _t: float) -> None:
            try:
                self._queue.put_nowait((generation, time.monotonic(), block.copy()))
            except queue.Full:
                self.dropped += 1

        source.start(sink)

    # ---- the worker thread --------------------------------------------------------------------

    def _work(self) -> None:
        generation, analyzer, clock, frames = -1, None, None, 0
        while True:
            item = self._queue.get()
            if item is None:
                return
            gen, now, block = item
            self.last_block = now
            if gen != generation:  # a new stream: its own sample count
                generation, frames = gen, 0
                analyzer = Analyzer(self.source.rate, self.hop, self.method)
                clock = StreamClock(self.source.rate)
            assert analyzer is not None and clock is not None
            frames += len(block)
            try:
                origin = clock.mark(now, frames)
                onsets = [replace(o, time=o.time + origin) for o in analyzer.feed(block)]
                times = np.asarray(analyzer.times) + origin
                levels = np.asarray(analyzer.levels, dtype=np.float32).reshape(-1, 4)
                if self.sync is not None:
                    self.sync.feed(times.tolist(), analyzer.flux)
                analyzer.times.clear()
                analyzer.flux.clear()
                analyzer.levels.clear()
                analyzer.onsets.clear()
            except Exception:  # odd samples must not end the listening: counted, said by the watch
                self.errors += 1
                continue
            self._handoff((onsets, times, levels))

    def _handoff(self, results: Results) -> None:
        loop = self._loop
        if loop is None:
            return
        with self._lock:
            if self._inflight >= INFLIGHT_LIMIT:
                self.dropped += 1
                return
            self._inflight += 1
        try:
            loop.call_soon_threadsafe(self._take, results)
        except RuntimeError:  # the loop has closed: shutting down
            pass

    # ---- the event loop -----------------------------------------------------------------------

    def _take(self, results: Results) -> None:
        with self._lock:
            self._inflight -= 1
        onsets, times, levels = results
        try:
            if onsets:
                self.drummer.band_onset(onsets[0].time)  # before the band hears it: starting forgets
            self.band.take(onsets, times, levels)
        except Exception as exc:  # one odd block must not stop the drummer
            self.log("error", line=f"ignored an audio block: {type(exc).__name__}: {exc}")

    async def run(self, every: float = 0.5) -> None:
        """On the loop for the whole show: take the hand-offs, say overflows, notice a lost device."""
        self._loop = asyncio.get_running_loop()
        said_overflows, said_at = 0, -OVERFLOW_LOG_EVERY_S
        next_try = 0.0
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            overflows = self.source.overflows + self.dropped + self.source.errors + self.errors
            if overflows > said_overflows and now - said_at >= OVERFLOW_LOG_EVERY_S:
                self.log("warning", line=f"audio input {self.name!r}: {overflows} blocks lost so far "
                                         f"(input overflow: the computer did not keep up); still listening",
                         overflows=overflows, device=self.source.overflows, queue=self.dropped,
                         failed=self.source.errors + self.errors)
                said_overflows, said_at = overflows, now
            if not self.lost and (not self.source.active or now - self.last_block > LOST_AFTER_S):
                self.lost = True
                self.merged.holding = True
                if await self._loop.run_in_executor(None, self.source.stop):
                    self.log("error", line=f"audio input {self.name!r} lost: playing on at the last tempo, "
                                           f"trying it again every {RETRY_EVERY_S:g} s")
                else:  # PortAudio hangs on it (its JACK server died): it cannot be started anew in this process
                    self.log("error", line=f"audio input {self.name!r} lost and PortAudio will not let go of it "
                                           f"(did its JACK server stop?): playing on at the last tempo without "
                                           f"it; restart livedrum to listen again")
                next_try = now + RETRY_EVERY_S
            elif self.lost and now >= next_try and not stuck():
                next_try = now + RETRY_EVERY_S
                if await self._loop.run_in_executor(None, self._reopen):
                    self.lost = False
                    self.merged.holding = False
                    self.log("input", line=f"audio input {self.name!r} is back")

    def _reopen(self) -> bool:
        """In a worker thread: look for the device anew (PortAudio lists devices when it starts)."""
        import sounddevice as sd

        try:
            with signals_held():  # PortAudio anew: its JACK threads never take SIGTERM
                sd._terminate()
                sd._initialize()
                source = self._open()
                self._generation += 1
                self.last_block = time.monotonic()
                self.source = source
                self._start(source)
            return True
        except Exception:  # still absent or refusing: the next try says nothing new
            return False

    def close(self) -> None:
        """Stop the stream and the worker (any exit path; never raises)."""
        self._loop = None
        try:
            self.source.stop()
        finally:
            try:
                self._queue.put(None, timeout=0.5)
            except queue.Full:  # the worker is stuck: it is a daemon thread, it ends with us
                pass
            self._worker.join(timeout=1.0)
