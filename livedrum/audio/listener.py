"""The band through a microphone, as the live drummer hears it: the audio counterpart of `LiveBand`.

The analysis runs where the audio arrives (PortAudio's thread, or a file replay); what it finds
is handed to the event loop as plain data with `take` (through `call_soon_threadsafe`, as MIDI is
in `Session.handoff`). `window(clock, beat)` then gives the same (S, Fb) features as `LiveBand`,
so `Drummer` can read either. Onsets are also published as plain `(time, strength)` events to
`on_onset` listeners: the hook a tempo follower (`--clock follow`) consumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import mido
import numpy as np

from livedrum.audio.features import audio_band_features
from livedrum.audio.onsets import Onset
from livedrum.grid import STEPS_PER_BEAT
from livedrum.live.clock import BeatClock
from livedrum.live.listener import LiveBand

KEEP_SECONDS = 30.0
OnsetEvent = tuple[float, float]  # (seconds on the loop's clock, strength 0..1)


class AudioBand:
    """Onsets and register levels heard so far, on the loop's clock (`time.monotonic`)."""

    def __init__(self) -> None:
        self.onsets: list[Onset] = []
        self.level_times = np.zeros(0)
        self.levels = np.zeros((0, 4), dtype=np.float32)
        self.last_onset: float | None = None
        self.first_onset: float | None = None
        self.on_onset: list[Callable[[float, float], None]] = []

    def take(self, onsets: list[Onset], times: np.ndarray, levels: np.ndarray) -> bool:
        """Results of one audio block (on the loop); True when it held a band onset."""
        if len(times):
            self.level_times = np.concatenate([self.level_times, times])
            self.levels = np.concatenate([self.levels, levels])
        for onset in onsets:
            self.onsets.append(onset)
            self.last_onset = onset.time
            if self.first_onset is None:
                self.first_onset = onset.time
            for listener in self.on_onset:
                listener(onset.time, onset.strength)
        return bool(onsets)

    def window(self, clock: BeatClock, beat: int) -> np.ndarray:
        """(S, Fb) band features of beat window `beat`, from what has been heard until now."""
        lo, hi = clock.time_of(beat - 1), clock.time_of(beat + 1)
        near = [o for o in self.onsets if lo <= o.time < hi]
        a, b = np.searchsorted(self.level_times, [lo, hi])
        return audio_band_features(near, self.level_times[a:b], self.levels[a:b], clock, STEPS_PER_BEAT,
                                   t0=float(beat))

    def events(self) -> list[OnsetEvent]:
        """Every onset kept, as plain (time, strength) events."""
        return [(o.time, o.strength) for o in self.onsets]

    def silent_since(self, t: float) -> float:
        return float("inf") if self.last_onset is None else t - self.last_onset

    def forget(self, now: float) -> None:
        cut = now - KEEP_SECONDS
        self.onsets = [o for o in self.onsets if o.time >= cut]
        k = int(np.searchsorted(self.level_times, cut))
        self.level_times, self.levels = self.level_times[k:], self.levels[k:]

    def reset(self) -> None:
        """A new song: forget what was heard (listeners stay)."""
        listeners = self.on_onset
        self.__init__()
        self.on_onset = listeners

    def release_all(self, t: float) -> None:
        """Nothing is held in audio: for the same interface as `LiveBand`."""


class MergedBand:
    """MIDI ports and a microphone heard together: the drummer's `band` when `--audio-in` is given.

    MIDI messages go to the `LiveBand`, audio results to the `AudioBand`; a window is the larger of
    the two in every column (one space for both ears), the last onset the later one. While the
    audio device is lost (`holding`), the band counts as still playing: the drums keep going at
    the last tempo rather than stopping on a silence that is only the cable's."""

    def __init__(self, midi: LiveBand, audio: AudioBand, now: Callable[[], float] = time.monotonic) -> None:
        self.midi, self.audio, self.now = midi, audio, now
        self.holding = False

    @property
    def notes(self) -> list:
        return self.midi.notes  # what a piano roll can draw

    @property
    def last_onset(self) -> float | None:
        if self.holding:
            return self.now()
        times = [t for t in (self.midi.last_onset, self.audio.last_onset) if t is not None]
        return max(times) if times else None

    @property
    def first_onset(self) -> float | None:
        times = [t for t in (self.midi.first_onset, self.audio.first_onset) if t is not None]
        return min(times) if times else None

    def add(self, t: float, message: mido.Message) -> bool:
        return self.midi.add(t, message)

    def window(self, clock: BeatClock, beat: int) -> np.ndarray:
        return np.maximum(self.midi.window(clock, beat), self.audio.window(clock, beat))

    def silent_since(self, t: float) -> float:
        last = self.last_onset
        return float("inf") if last is None else t - last

    def forget(self, now: float) -> None:
        self.midi.forget(now)
        self.audio.forget(now)

    def reset(self) -> None:
        self.midi.reset()
        self.audio.reset()

    def release_all(self, t: float) -> None:
        self.midi.release_all(t)
