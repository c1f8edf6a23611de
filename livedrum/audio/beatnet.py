"""A learned beat detector: a small temporal convolutional network (after Davies and Böck 2019)
that reads what the analysis measured per hop (flux per register and pitch class, register levels)
and says, per frame, how likely a beat (and a downbeat) falls there.

The hand-made tracker finds the tempo in the onset envelope's autocorrelation, and for a third of the
rendered validation songs it locked half, twice or 1.5 times the beat, or sat half a beat out: a band
that plays eighths has as much onset energy between its beats as on them. What tells the beat apart is
where the bass, the chords and the accents fall, which a network trained on rendered songs with their
true beats can learn. The whole-file tracker then runs its dynamic programming on this activation
instead of the raw envelope (`tempo.track_activation`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from livedrum.cli import MODELS_DIR
from livedrum.features import N_REGISTERS

if TYPE_CHECKING:
    from livedrum.audio.onsets import Analyzer

FRAME_HOPS = 2  # analysis hops pooled into one frame: 11.6 ms at hop 256 and 44.1 kHz
N_FLUX = 1 + N_REGISTERS + 12  # total flux, flux per register, flux per pitch class
N_INPUTS = N_FLUX + N_REGISTERS  # ... and the register levels
FRAME_OFFSET = 0.75  # frame k stands for the time t0 + (k + FRAME_OFFSET) * frame_s (see `frame_time`)
SHIPPED = "livedrum-beats.pt"


@dataclass(frozen=True)
class BeatNetConfig:
    channels: int = 32
    kernel: int = 5
    layers: int = 10  # dilations 1, 2, 4, ... 512: about 47 s of context on either side
    dropout: float = 0.1


def frame_features(flux: np.ndarray, band_flux: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(frames, N_INPUTS) network input of a whole recording's per-hop analysis (`Analyzer`).

    Flux is scaled by each channel's mean over the recording (so the input gain and the mix do not
    matter) and log-compressed; pairs of hops are pooled (flux: the larger, levels: the mean)."""
    flux_all = np.concatenate([np.asarray(flux, np.float32)[:, None], np.asarray(band_flux, np.float32)], axis=1)
    levels = np.asarray(levels, np.float32)
    n = len(flux_all) // FRAME_HOPS * FRAME_HOPS
    if n == 0:
        return np.zeros((0, N_INPUTS), np.float32)
    scale = flux_all.mean(axis=0) + 1e-6
    fx = np.log1p(flux_all[:n] / scale).reshape(-1, FRAME_HOPS, N_FLUX).max(axis=1)
    lv = levels[:n].reshape(-1, FRAME_HOPS, N_REGISTERS).mean(axis=1)
    return np.concatenate([fx, lv], axis=1).astype(np.float32)


def analysis_features(analyzer: Analyzer) -> np.ndarray:
    """`frame_features` of everything an `Analyzer` has kept."""
    return frame_features(np.asarray(analyzer.flux), np.asarray(analyzer.band_flux).reshape(-1, N_FLUX - 1),
                          np.asarray(analyzer.levels).reshape(-1, N_REGISTERS))


def frame_time(t0: float, hop_s: float) -> tuple[float, float]:
    """(time of frame 0, seconds per frame) of an analysis whose hop k ends at t0 + (k + 1) * hop_s: the
    network learned to mark a beat in the frame nearest to it on this clock."""
    frame_s = FRAME_HOPS * hop_s
    return t0 + FRAME_OFFSET * frame_s, frame_s


class Block(nn.Module):
    """A dilated, non-causal convolution with a residual path."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.drop(nn.functional.elu(self.conv(x))))


class BeatNet(nn.Module):
    """(batch, frames, N_INPUTS) -> (batch, frames, 2) logits of beat and downbeat."""

    def __init__(self, config: BeatNetConfig = BeatNetConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.inp = nn.Conv1d(N_INPUTS, c, 3, padding=1)
        self.blocks = nn.Sequential(*(Block(c, config.kernel, 2 ** i, config.dropout) for i in range(config.layers)))
        self.out = nn.Conv1d(c, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.elu(self.inp(x.transpose(1, 2)))
        return self.out(self.blocks(h)).transpose(1, 2)


def save_beatnet(model: BeatNet, path: Path, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.config), "state": model.state_dict(), "meta": meta}, path)


def load_beatnet(path: Path) -> BeatNet:
    """A trained beat network; ValueError (one line) when the file is missing or not one."""
    if not Path(path).is_file():
        raise ValueError(f"cannot load the beat network {path}: no such file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = BeatNet(BeatNetConfig(**blob["config"]))
        model.load_state_dict(blob["state"])
    except Exception as exc:  # torch raises many types for foreign or broken files
        raise ValueError(f"cannot load the beat network {path}: not one ({type(exc).__name__})") from exc
    return model.eval()


@lru_cache(maxsize=1)
def shipped_beatnet() -> BeatNet | None:
    """The shipped beat network (`models/livedrum-beats.pt` beside the package, or $LIVEDRUM_BEATNET);
    None, said in one line, when it is missing or broken: the onset-envelope tracker finds the beats."""
    env = os.environ.get("LIVEDRUM_BEATNET")
    path = Path(env) if env else MODELS_DIR / SHIPPED
    try:
        return load_beatnet(path)
    except ValueError as exc:
        print(f"livedrum: {exc}; the onset tracker finds the beats", file=sys.stderr)
        return None


@torch.no_grad()
def beat_activation(model: BeatNet, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(beat, downbeat) probabilities per frame of a recording's `frame_features`."""
    if len(features) == 0:
        return np.zeros(0), np.zeros(0)
    logits = model(torch.from_numpy(features)[None])[0]
    p = torch.sigmoid(logits).double().numpy()
    return p[:, 0], p[:, 1]
