"""Choose the sampling defaults on validation songs, so the default drummer plays as densely
as real drummers and lands as many hits as it can (ARCHITECTURE: density about 1.0)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedrum.batches import TrainSong, bar_lengths
from livedrum.engine import Engine
from livedrum.grid import STEPS_PER_BEAT
from livedrum.metrics import CLASS_NAMES, hit_f1
from livedrum.model import DrumNet
from livedrum.perform import SongGrid, grid_to_notes, perform, windows_to_notes
from livedrum.sampler import Sampling
from livedrum.song import Notes

# (complexity, bias) pairs: a low complexity decides nearly by threshold, so it needs a larger bias
GRID = ((0.0, 0.8), (0.0, 1.3), (0.0, 1.8), (0.0, 2.3), (0.3, 1.3), (0.3, 1.8), (0.3, 2.3),
        (0.5, 1.3), (0.5, 1.8), (0.5, 2.3))
PIECE_OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0)


@dataclass
class Trial:
    bias: float
    consistency: float
    f1: float
    density: float
    piece_bias: tuple[tuple[str, float], ...] = ()
    complexity: float = 0.5


def real_drums(song: TrainSong) -> Notes:
    """The real drummer's hits back from the grid arrays, offsets included."""
    return grid_to_notes(song.arrays.hits, song.arrays.velocity, song.arrays.offset)


def grid_of(song: TrainSong) -> SongGrid:
    return SongGrid(song.arrays.band, song.arrays.position, bar_lengths(song.arrays), np.full(song.n_beats, song.bpm))


def calibrate(
    net: DrumNet, songs: list[TrainSong], groove: str = "rock", seed: int = 0,
    max_beats: int = 256, log: bool = True,
) -> tuple[dict, list[Trial]]:
    """Grid-search the default complexity and logit bias, then a per-piece offset for kick, snare
    and hi-hat (each class has its own best threshold)."""
    S = STEPS_PER_BEAT
    cases = []
    for song in songs:
        cut = min(song.n_beats, max_beats)
        ref = real_drums(song).between(0.0, float(cut))
        if song.n_beats < 16 or len(ref) < 16:
            continue
        g = grid_of(song)
        cases.append((SongGrid(g.band[: cut * S], g.position[: cut * S], g.bar_beats[:cut], g.bpm[:cut]), ref))
    if not cases:
        raise ValueError("no validation songs long enough to calibrate on")

    def trial(s: Sampling) -> tuple[Trial, dict[str, float]]:
        per_class: dict[str, list[float]] = {c: [] for c in CLASS_NAMES}
        means, n_est, n_ref = [], 0, 0
        for g, ref in cases:
            est = windows_to_notes(perform(g, Engine(net, s, seed)))
            f1 = hit_f1(ref, est)
            for c in CLASS_NAMES:
                if f1[c] is not None:
                    per_class[c].append(f1[c])
            if f1["mean"] is not None:
                means.append(f1["mean"])
            n_est, n_ref = n_est + len(est), n_ref + len(ref)
        t = Trial(s.bias, s.consistency, float(np.mean(means)), n_est / max(1, n_ref), s.piece_bias, s.complexity)
        if log:
            print(f"calibrate: complexity {s.complexity:.1f} bias {s.bias:+.1f} pieces {dict(s.piece_bias)}: "
                  f"F1 {t.f1:.3f} density {t.density:.2f}", flush=True)
        return t, {c: float(np.mean(v)) if v else 0.0 for c, v in per_class.items()}

    trials = []
    for c, bias in GRID:
        s = Sampling(complexity=c, bias=bias, groove=groove)
        trials.append(trial(s)[0])
    plausible = [t for t in trials if 0.7 <= t.density <= 1.4] or trials
    best = max(plausible, key=lambda t: t.f1)
    base = Sampling(complexity=best.complexity, bias=best.bias, groove=groove)
    pieces: dict[str, float] = {}
    for piece in CLASS_NAMES:  # one class at a time, the others held where they are
        scored = []
        for offset in PIECE_OFFSETS:
            t, per_class = trial(base.with_(piece_bias=tuple({**pieces, piece: offset}.items())))
            trials.append(t)
            scored.append((per_class[piece], t.f1, offset))
        pieces[piece] = max(scored)[2]
    final, _ = trial(base.with_(piece_bias=tuple(pieces.items())))
    trials.append(final)
    if final.f1 < best.f1:  # coordinate steps interact through the decoder: keep what measured best
        final, pieces = best, {}
    chosen = {"complexity": best.complexity, "bias": best.bias, "consistency": 0.0, "groove": groove,
              "piece_bias": pieces, "validation_f1": final.f1, "validation_density": final.density,
              "songs": len(cases)}
    return chosen, trials
