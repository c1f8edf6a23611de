"""Streaming audio analysis, hop by hop: onsets (aubio) and what each register is doing.

For every hop (at most 256 samples) it measures, from one short-time spectrum (aubio's phase
vocoder): the log-spectral flux (how much just started) per register band and per pitch class,
and the level per register band. An aubio onset detector marks the onsets; each onset carries
the flux of its registers and pitch classes, which is what a MIDI note-on tells the features:
where in pitch something started, and how hard. Levels are relative to a slowly decaying peak, so
the input gain (a quiet microphone, a hot file) does not change the features.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import aubio
import numpy as np

from livedrum.features import N_REGISTERS, REGISTER_EDGES

AUBIO_METHODS = ("energy", "hfc", "complex", "phase", "wphase", "specdiff", "kl", "mkl", "specflux")
# "flux": our own causal detector on the log-spectral flux this module computes anyway. aubio's
# peak picker waits for frames after the peak (about 25 ms at hop 256 and 48 kHz); a rising edge
# over an adaptive threshold is known at the hop it happens (about 12 ms), with as few false onsets.
ONSET_METHODS = ("flux", *AUBIO_METHODS)
DEFAULT_METHOD = "specflux"
LIVE_METHOD = "flux"
FLUX_MEDIAN_S = 0.25  # the threshold: this many seconds of flux before the hop ...
FLUX_K = 3.0  # ... their median times this ...
FLUX_FLOOR = 0.05  # ... and at least this share of the running flux peak (silence is no onset)
MIN_IOI_S = 0.040
SILENCE_DB = -70.0  # a hop quieter than this (dB re full scale, aubio's default) holds no onset: mic hiss
MAX_HOP = 256
GAMMA = 100.0  # log compression of magnitudes before the flux: log(1 + GAMMA |X|)
FLUX_LOOKBACK = 6  # hops before a detection in which the onset's flux peak is searched
PEAK_HALF_LIFE_S = 20.0  # the gain reference forgets a loud passage this slowly
LEVEL_RANGE_DB = 30.0  # a register this far below the loudest level reads as silent
MIN_FREQ, MAX_FREQ = 30.0, 5000.0
# an onset's total flux (the beat trackers' envelope) peaks this many hops after the onset: the
# spectrum's window is 8 hops long. Measured on rendered validation songs: beats found on the flux
# came 20 ms (3.5 hops of 5.8 ms) after the true beats, the onsets themselves within 2 ms.
FLUX_LAG_HOPS = 3.5
REGISTER_SHARE = 0.25  # a register whose flux is below this share of the onset's strongest is not playing
REGISTER_FLOOR = 0.3  # nor one below this share of its own loudest onset (sustain, beating, leakage)


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


@dataclass
class Onset:
    """One onset the band played: when, how strong (0..1), and where in pitch."""

    time: float  # seconds on the stream's clock
    strength: float  # 0..1, the onset's flux against the running peak
    registers: np.ndarray  # (N_REGISTERS,) 0..1 flux per register band: like the velocity of notes there
    chroma: np.ndarray  # (12,) 0..1 flux per pitch class, normalised to its peak


def band_matrices(rate: int, win: int) -> tuple[np.ndarray, np.ndarray]:
    """(registers, chroma) weights over the spectrum's bins: which bins belong to which band."""
    freqs = np.arange(win // 2 + 1) * rate / win
    edges = [MIN_FREQ, *(midi_hz(p - 0.5) for p in REGISTER_EDGES), MAX_FREQ]
    reg = np.zeros((N_REGISTERS, len(freqs)), dtype=np.float32)
    for r in range(N_REGISTERS):
        reg[r] = (freqs >= edges[r]) & (freqs < edges[r + 1])
    chroma = np.zeros((12, len(freqs)), dtype=np.float32)
    ok = (freqs >= 55.0) & (freqs < 2100.0)
    pc = np.rint(69 + 12 * np.log2(freqs[ok] / 440.0)).astype(int) % 12
    chroma[pc, np.nonzero(ok)[0]] = 1.0
    return reg, chroma


class Analyzer:
    """Feeds on mono blocks of any length; keeps per-hop levels and the onsets found.

    Cheap enough for an audio callback (one FFT and a few small matrix products per hop); the
    results are plain arrays and `Onset`s that the event loop can take over."""

    def __init__(self, rate: int, hop: int = MAX_HOP, method: str = DEFAULT_METHOD, t0: float = 0.0) -> None:
        if method not in ONSET_METHODS:
            raise ValueError(f"unknown onset method {method!r} (choose from {', '.join(ONSET_METHODS)})")
        if not 32 <= hop <= MAX_HOP:
            raise ValueError(f"hop must be within 32..{MAX_HOP} samples, got {hop}")
        if not 8000 <= rate <= 192000:
            raise ValueError(f"sample rate {rate} Hz is out of range (8000 to 192000)")
        self.rate, self.hop, self.t0 = int(rate), int(hop), float(t0)
        self.win = 4 * self.hop  # the onset detector's window: short, for timing
        self.spec_win = 8 * self.hop  # the spectrum's window: long enough to tell bass notes apart
        self.method = method
        self.onset = None if method == "flux" else aubio.onset(method, self.win, self.hop, self.rate)
        if self.onset is not None:
            self.onset.set_minioi_ms(1000 * MIN_IOI_S)
        self._recent_total: deque[float] = deque(maxlen=max(4, int(round(FLUX_MEDIAN_S * rate / hop))))
        self._was_above = False
        self._last_flux_onset = -1e9
        self.pvoc = aubio.pvoc(self.spec_win, self.hop)
        self.reg_w, self.chroma_w = band_matrices(self.rate, self.spec_win)
        self._reg_bins = np.maximum(self.reg_w.sum(axis=1), 1.0)
        self._pending = np.zeros(0, dtype=np.float32)
        self._prev = np.zeros(self.spec_win // 2 + 1, dtype=np.float32)
        self._recent_flux = np.zeros((FLUX_LOOKBACK, N_REGISTERS + 12 + 1), dtype=np.float32)
        self._decay = 0.5 ** (self.hop / self.rate / PEAK_HALF_LIFE_S)
        self._peak_flux = 1e-3
        self._peak_total = 1e-3  # the flux detector's floor follows every hop, not only onsets
        self._peak_reg = np.full(N_REGISTERS, 1e-6, dtype=np.float32)  # each register against its own loudest
        self._peak_level = 1e-6
        self.hops = 0
        # per hop: time (end of the hop), total flux (the beat tracker's envelope), register levels 0..1,
        # and the flux per register and pitch class (what the beat network hears)
        self.times: list[float] = []
        self.flux: list[float] = []
        self.levels: list[np.ndarray] = []
        self.band_flux: list[np.ndarray] = []
        self.onsets: list[Onset] = []

    @property
    def hop_s(self) -> float:
        return self.hop / self.rate

    @property
    def flux_lag_s(self) -> float:
        """How late the flux envelope peaks after an onset: subtract it from beats found on the flux."""
        return FLUX_LAG_HOPS * self.hop_s

    def feed(self, block: np.ndarray) -> list[Onset]:
        """Analyse a mono float32 block; returns the onsets it completed (also kept in `onsets`)."""
        data = np.concatenate([self._pending, np.asarray(block, dtype=np.float32).ravel()])
        n = len(data) // self.hop
        found: list[Onset] = []
        for i in range(n):
            onset = self._hop(data[i * self.hop : (i + 1) * self.hop])
            if onset is not None:
                found.append(onset)
        self._pending = data[n * self.hop :].copy()
        self.onsets.extend(found)
        return found

    def _hop(self, frame: np.ndarray) -> Onset | None:
        if not np.isfinite(frame).all():
            frame = np.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0)
        frame = np.ascontiguousarray(frame, dtype=np.float32)
        spec = self.pvoc(frame)
        mag = np.log1p(GAMMA * np.asarray(spec.norm, dtype=np.float32))
        rise = np.maximum(mag - self._prev, 0.0)
        self._prev = mag
        reg_flux, chroma_flux = (self.reg_w @ rise) / self._reg_bins, self.chroma_w @ rise
        total = float(rise.sum())
        power = self.reg_w @ (np.asarray(spec.norm, dtype=np.float32) ** 2)
        self._peak_level = max(self._peak_level * self._decay, float(power.max()), 1e-9)
        db = 10 * np.log10(np.maximum(power, 1e-12) / self._peak_level)
        levels = np.clip(1.0 + db / LEVEL_RANGE_DB, 0.0, 1.0).astype(np.float32)
        self._recent_flux = np.roll(self._recent_flux, -1, axis=0)
        self._recent_flux[-1] = np.concatenate([reg_flux, chroma_flux, [total]])
        self.hops += 1
        t = self.t0 + self.hops * self.hop_s
        self.times.append(t)
        self.flux.append(total)
        self.levels.append(levels)
        self.band_flux.append(self._recent_flux[-1, :-1].copy())
        if self.onset is None:
            quiet = 10 * np.log10(float(np.mean(frame * frame)) + 1e-20) < SILENCE_DB
            when = self._flux_onset(total, t, quiet)
        else:
            when = self.t0 + float(self.onset.get_last_s()) if self.onset(frame)[0] else None
        if when is None:
            return None
        peak = self._recent_flux.max(axis=0)
        self._peak_flux = max(self._peak_flux * self._decay, float(peak[-1]))
        self._peak_reg = np.maximum(self._peak_reg * self._decay, peak[:N_REGISTERS])
        return self._onset(when, peak)

    def _flux_onset(self, total: float, t: float, quiet: bool = False) -> float | None:
        """The causal detector: the hop where the flux rises over its adaptive threshold; the
        onset falls at the start of that hop (the new sound entered the window during it).
        A `quiet` hop (under SILENCE_DB: hiss, or only the first samples of a note that starts at its
        very end) is never above: the rising edge waits for the hop where the note sounds, instead
        of being spent on a hop the silence gate refuses (the note would then be lost)."""
        recent = self._recent_total
        self._peak_total = max(self._peak_total * self._decay, total)
        threshold = max(FLUX_K * float(np.median(recent)), FLUX_FLOOR * self._peak_total) if recent else np.inf
        recent.append(total)
        above = total > threshold and not quiet
        rising, self._was_above = above and not self._was_above, above
        if not rising or t - self._last_flux_onset < MIN_IOI_S:
            return None
        self._last_flux_onset = t
        return t - self.hop_s

    def _onset(self, t: float, peak: np.ndarray) -> Onset:
        reg, chroma = peak[:N_REGISTERS], peak[N_REGISTERS:-1]
        strength = float(np.clip(peak[-1] / self._peak_flux, 0.0, 1.0))
        # a register that never plays must not read its leakage as notes: its peak is floored
        floor = np.maximum(self._peak_reg, 0.1 * float(self._peak_reg.max()))
        level = np.clip(reg / floor, 0.0, 1.0)
        share = level / max(float(level.max()), 1e-9)
        playing = (share >= REGISTER_SHARE) & (level >= REGISTER_FLOOR)
        registers = np.where(playing, np.sqrt(level), 0.0).astype(np.float32)
        cmax = float(chroma.max())
        chroma_n = chroma / cmax if cmax > 0 else chroma
        chroma_n = np.where(chroma_n >= 0.6, chroma_n, 0.0).astype(np.float32)
        return Onset(t, strength, registers, chroma_n)

    def forget(self, before: float) -> None:
        """Drop hops and onsets older than `before` (seconds): a long set must not grow memory."""
        k = int(np.searchsorted(np.asarray(self.times), before))
        if k:
            del self.times[:k], self.flux[:k], self.levels[:k], self.band_flux[:k]
        self.onsets = [o for o in self.onsets if o.time >= before]
