"""Turning the decoder's hit probabilities into hits: complexity, kit mask, four limbs, a seed.

Complexity is the sampling temperature (0 = sparse and safe, 1 = busy and adventurous), with a
matching shift of the hit threshold so that the knob moves density audibly. The offset `bias`
is calibrated on validation songs so that the default complexity plays as densely as real
drummers do; it travels in the checkpoint with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from livedrum.groove import GROOVES
from livedrum.vocab import N_VOICES, kit_mask, piece_voices

EARS = ("midi", "audio")


@dataclass(frozen=True)
class Sampling:
    """How the drummer turns probabilities into hits; every field can change between windows."""

    complexity: float = 0.5
    kit_off: frozenset[str] = field(default_factory=frozenset)
    max_hits: int = 4  # four limbs
    bias: float = 0.0  # logit offset calibrated on validation (density ~ 1.0 at complexity 0.5)
    spread: float = 0.6  # logit shift between complexity 0 and 1
    consistency: float = 0.0  # pull towards what the drummer itself played one bar earlier
    humanize: float = 0.5  # micro-timing and accents: the model's offsets and the GMD's feel (0 = on the grid)
    piece_bias: tuple[tuple[str, float], ...] = ()  # per kit piece logit offsets, calibrated
    groove: str = "none"  # seed groove when the drummer has no bar of its own yet (see groove.py)
    ears: str = "midi"  # how the band is heard: "midi", or "audio" (its own groove selector, or the seed groove)

    def __post_init__(self) -> None:
        if not 0.0 <= self.complexity <= 1.0:
            raise ValueError(f"complexity must be within 0..1, got {self.complexity}")
        if not 0.0 <= self.consistency <= 1.0:
            raise ValueError(f"consistency must be within 0..1, got {self.consistency}")
        if not 1 <= self.max_hits <= N_VOICES:
            raise ValueError(f"max_hits must be within 1..{N_VOICES}, got {self.max_hits}")
        kit_mask(self.kit_off)  # validates piece names
        if self.ears not in EARS:
            raise ValueError(f"ears must be one of {', '.join(EARS)}, got {self.ears!r}")
        if self.groove not in GROOVES:
            raise ValueError(f"unknown seed groove {self.groove!r} (known: {', '.join(GROOVES)})")
        for piece, _ in self.piece_bias:
            piece_voices(piece)

    @property
    def temperature(self) -> float:
        """0.25 .. 0.4: 22 voices sampled each step add up, so a wider range turns a groove into a
        roll (measured: at 1.0 the old 0.25..1.0 range put a hit on nearly every step)."""
        return 0.25 + 0.15 * self.complexity

    @property
    def shift(self) -> float:
        return self.bias + self.spread * (self.complexity - 0.5)

    def bias_vector(self) -> np.ndarray:
        """(V,) logit shift per voice: complexity's shift plus the calibrated per-piece offsets."""
        vec = np.full(N_VOICES, self.shift, dtype=np.float32)
        for piece, bias in self.piece_bias:
            vec[piece_voices(piece)] += bias
        return vec

    def with_(self, **changes: object) -> Sampling:
        return replace(self, **changes)

    def for_audio(self) -> Sampling:
        """Sampling for a band heard as audio: "band" grooves come from the model's audio selector, fitted
        on rendered bands' audio features; a model without one plays the seed groove (its MIDI selector,
        on a microphone's features, chose shuffle patterns for a straight band)."""
        return self.with_(ears="audio")


def draw_uniforms(rng: np.random.Generator, steps: int) -> np.ndarray:
    """The random numbers one window consumes, drawn up front on the CPU so that every
    device (and a captured CUDA graph) gives the same hits for a seed."""
    u = rng.random((steps, N_VOICES), dtype=np.float64).astype(np.float32)
    return np.minimum(u, np.float32(1.0) - np.finfo(np.float32).epsneg)  # float32 rounding never gives 1.0


def hit_probability(logit: torch.Tensor, s: Sampling, shift: torch.Tensor | None = None) -> torch.Tensor:
    """Per-voice hit probability after complexity (temperature and threshold shift).

    `shift` is `s.bias_vector()` as a tensor, passed by callers that sample many steps."""
    if shift is None:
        shift = torch.from_numpy(s.bias_vector()).to(logit.device)
    return torch.sigmoid((logit + shift) / s.temperature)


def sample_step(
    prob: torch.Tensor, uniform: torch.Tensor, mask: torch.Tensor, memory: torch.Tensor | None,
    s: Sampling,
) -> torch.Tensor:
    """One step's hits (B, V) as 0/1 floats: kit mask before sampling, at most max_hits."""
    if memory is not None and s.consistency > 0:
        prob = (1.0 - s.consistency) * prob + s.consistency * memory
    prob = prob * mask
    hits = (uniform < prob).float()
    if s.max_hits < prob.shape[-1]:
        # keep the most probable max_hits of the sampled hits
        ranked = torch.where(hits > 0, prob, torch.full_like(prob, -1.0))
        top = torch.topk(ranked, s.max_hits, dim=-1).indices  # ties go to the lower voice index
        keep = torch.zeros_like(hits).scatter_(-1, top, 1.0)
        hits = hits * keep
    return hits
