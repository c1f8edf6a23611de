"""Choose the sampling defaults on validation songs, so the default drummer plays as densely
as real drummers and lands as many hits as it can (ARCHITECTURE: density about 1.0)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedrum.batches import TrainSong, bar_lengths
from livedrum.engine import Engine
from livedrum.grid import STEPS_PER_BEAT
from livedrum.metrics import hit_f1
from livedrum.model import DrumNet
from livedrum.perform import SongGrid, perform, windows_to_notes
from livedrum.sampler import Sampling
from livedrum.song import Notes
from livedrum.vocab import DRUM_NOTES

BIASES = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0)
CONSISTENCIES = (0.0, 0.3)


@dataclass
class Trial:
    bias: float
    consistency: float
    f1: float
    density: float


def real_drums(song: TrainSong) -> Notes:
    """The real drummer's hits back from the grid arrays, offsets included."""
    a = song.arrays
    steps, voices = np.nonzero(a.hits)
    start = (steps + a.offset[steps, voices]) / STEPS_PER_BEAT
    pitch = [DRUM_NOTES[v] for v in voices]
    vel = np.clip(np.rint(a.velocity[steps, voices] * 127), 1, 127)
    n = len(steps)
    return Notes.from_lists(start, start + 0.1, pitch, vel, [9] * n, [0] * n)


def grid_of(song: TrainSong) -> SongGrid:
    return SongGrid(song.arrays.band, song.arrays.position, bar_lengths(song.arrays))


def calibrate(
    net: DrumNet, songs: list[TrainSong], complexity: float = 0.5, seed: int = 0,
    max_beats: int = 256, log: bool = True,
) -> tuple[dict, list[Trial]]:
    """Grid-search the logit bias and bar-to-bar consistency at the default complexity."""
    cases = []
    for song in songs:
        if song.n_beats < 16:
            continue
        ref = real_drums(song)
        cut = min(song.n_beats, max_beats)
        ref = ref.between(0.0, float(cut))
        if len(ref) < 16:
            continue
        g = grid_of(song)
        S = STEPS_PER_BEAT
        cases.append((SongGrid(g.band[: cut * S], g.position[: cut * S], g.bar_beats[:cut]), ref))
    if not cases:
        raise ValueError("no validation songs long enough to calibrate on")
    trials = []
    for consistency in CONSISTENCIES:
        for bias in BIASES:
            s = Sampling(complexity=complexity, bias=bias, consistency=consistency)
            f1s, n_est, n_ref = [], 0, 0
            for g, ref in cases:
                est = windows_to_notes(perform(g, Engine(net, s, seed)))
                f1 = hit_f1(ref, est)["mean"]
                if f1 is not None:
                    f1s.append(f1)
                n_est, n_ref = n_est + len(est), n_ref + len(ref)
            trial = Trial(bias, consistency, float(np.mean(f1s)), n_est / max(1, n_ref))
            trials.append(trial)
            if log:
                print(f"calibrate: bias {bias:+.1f} consistency {consistency:.1f}: "
                      f"F1 {trial.f1:.3f} density {trial.density:.2f}", flush=True)
    plausible = [t for t in trials if 0.7 <= t.density <= 1.4] or trials
    best = max(plausible, key=lambda t: t.f1)
    chosen = {"complexity": complexity, "bias": best.bias, "consistency": best.consistency,
              "validation_f1": best.f1, "validation_density": best.density, "songs": len(cases)}
    return chosen, trials
