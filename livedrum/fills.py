"""Fills: when a drummer plays one, and how.

When: at every phrase end (every `every` bars, the preset's), and also halfway through a phrase when
the band is building up (its last bar clearly louder and busier than the bars before), as drummers
push a rise. How: the same model, asked for toms and snare instead of the time-keeping cymbals, in
the last beats before the bar line, landing on the downbeat with a crash. The live drummer and
offline `accompany` share this, so a rendered track fills where the live drummer would have.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from livedrum.sampler import Sampling

FILL_CRASH = (49, 110)  # a fill lands on the next downbeat with a crash
FILL_BEATS = 2  # a fill with no length asked for: the last two beats before the bar line
# a fill is the same model, asked for toms and snare instead of the time-keeping cymbals
FILL_PIECE_BIAS = {"toms": 4.0, "snare": 2.0, "hihat": -4.0, "cymbals": -4.0, "kick": 0.5}
FILL_COMPLEXITY = 0.6
RISE = 1.3  # the band's last bar this much above its bars before: it is building up
BEFORE_BARS = 3  # the bars the last one is compared with
MIN_ENERGY = 0.3  # per beat (about one mezzo-forte note): below this the band is too sparse for a rise


def beat_energy(band_window: np.ndarray) -> float:
    """How much the band played in one beat window (S, BAND_FEATURES): its loudness summed over the
    steps. The loudness feature comes from MIDI velocities or from audio alike."""
    return float(band_window[:, -1].sum())


def fill_sampling(base: Sampling) -> Sampling:
    """`base`, leaning to toms and snare and a little busier: how a fill window is sampled."""
    bias = dict(base.piece_bias)
    for piece, extra in FILL_PIECE_BIAS.items():
        bias[piece] = bias.get(piece, 0.0) + extra
    return base.with_(complexity=max(base.complexity, FILL_COMPLEXITY), piece_bias=tuple(bias.items()))


@dataclass
class FillTiming:
    """Decides at each bar line whether the bar starting ends with a fill, from the bar count and
    the band's energy per beat heard so far (`hear`). `every` 0: no automatic fills."""

    every: int = 0
    _beats: deque[float] = field(default_factory=lambda: deque(maxlen=12 * (BEFORE_BARS + 1)))

    def reset(self) -> None:
        self._beats.clear()

    def hear(self, energy: float) -> None:
        """The band's energy in the next beat heard (beats in order, each once)."""
        self._beats.append(energy)

    def due(self, bar: int, beats_per_bar: int) -> bool:
        """Whether bar `bar` (0-based, just starting) ends with a fill."""
        if self.every <= 0:
            return False
        if (bar + 1) % self.every == 0:
            return True
        half = self.every // 2
        return half >= 2 and (bar + 1) % half == 0 and self.rising(beats_per_bar)

    def rising(self, beats_per_bar: int) -> bool:
        """The last bar heard is RISE times the mean of the (up to BEFORE_BARS) bars before it, and not
        sparse."""
        bars = min(len(self._beats) // beats_per_bar, BEFORE_BARS + 1)
        if bars < 2:
            return False
        heard = np.array(list(self._beats)[-bars * beats_per_bar :])
        energy = heard.reshape(bars, beats_per_bar).sum(axis=1)
        last, before = energy[-1], energy[:-1].mean()
        return bool(last >= MIN_ENERGY * beats_per_bar and last >= RISE * before)
