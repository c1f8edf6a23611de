"""Seed grooves: what the drummer comes in with before it has a bar of its own to build on.

The decoder learned to continue what the drummer played one bar earlier and to adapt it to the
band (a real drummer's previous bar predicts the next one better than anything else). At the
start, or after a silent bar while the band plays, there is no such bar: the engine hands the
decoder a plain groove that keeps what a fixed beat gets right (backbeat, eighth hi-hats, kick on
the strong beats), and the model adapts it from there.
"""

from __future__ import annotations

import numpy as np

from livedrum.features import POSITION_FEATURES
from livedrum.grid import STEPS_PER_BEAT
from livedrum.vocab import N_VOICES, VOICE_OF_NOTE

KICK, SNARE, HAT = VOICE_OF_NOTE[36], VOICE_OF_NOTE[38], VOICE_OF_NOTE[42]
GROOVES = ("none", "rock", "band")  # band: the selector's choice (selector.py), rock where it has none
_BEAT = STEPS_PER_BEAT  # offset of the beat-in-bar one-hot in the position features
_THREE = STEPS_PER_BEAT + 9  # the 3-beat-bar flag
assert POSITION_FEATURES == STEPS_PER_BEAT + 10


def seed_groove(name: str, position: np.ndarray) -> np.ndarray | None:
    """(S, V) hits of the named groove for one window, from its position features; None for "none"."""
    if name == "none":
        return None
    if name not in ("rock", "band"):
        raise ValueError(f"unknown seed groove {name!r} (known: {', '.join(GROOVES)})")
    S = STEPS_PER_BEAT
    beat = int(np.argmax(position[0, _BEAT : _BEAT + 4]))  # 3 stands for "fourth or later"
    three = position[0, _THREE] > 0.5
    out = np.zeros((S, N_VOICES), dtype=np.float32)
    out[0, HAT] = out[S // 2, HAT] = 1.0
    if beat == 0 or (beat == 2 and not three):
        out[0, KICK] = 1.0
    else:
        out[0, SNARE] = 1.0
    return out
