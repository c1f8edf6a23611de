"""How decided hits are played: swing warps time within the beat, intensity scales velocity.

Shared by the live performer and offline rendering, so both play a preset's feel alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedrum.grid import STEPS_PER_BEAT


@dataclass(frozen=True)
class Feel:
    """How the decided hits are played; every field may change between windows."""

    swing: float = 0.0  # 0 straight .. 1 the off-beat eighth on the last triplet
    intensity: float = 0.5  # 0 soft .. 1 loud; 0.5 plays the model's velocities unchanged

    def __post_init__(self) -> None:
        for name in ("swing", "intensity"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")


def swing_beat(position: np.ndarray, swing: float) -> np.ndarray:
    """Warp positions within the beat: the mid-beat (step 6) moves to step 6 + 2 * swing."""
    if swing == 0.0:
        return position
    beat = np.floor(position)
    frac = position - beat
    half = 0.5
    target = (STEPS_PER_BEAT / 2 + 2 * swing) / STEPS_PER_BEAT
    warped = np.where(frac < half, frac * target / half, target + (frac - half) * (1 - target) / half)
    return beat + warped


def scale_velocity(velocity: np.ndarray, intensity: float) -> np.ndarray:
    """Intensity 0.5 keeps the model's velocities; 0 plays at 40 %, 1 at 160 %."""
    return np.clip(np.rint(velocity * (0.4 + 1.2 * intensity)), 1, 127)
