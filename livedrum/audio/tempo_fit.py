"""Fit the whole-file tracker's tempo-octave ranker (`tempo.OCTAVE_WEIGHTS`) on rendered songs.

Each song's band is rendered without its drums and analysed as `accompany` does; every tempo-octave
candidate is tracked and scored against the MIDI's true beats (beat F-measure). A pairwise logistic
ranker learns, within each song, which of two candidates tracks better, weighted by how much better:
the F-measure is what counts, not which octave is "right". Leave-one-song-out shows what it does on
songs it did not see; paste the printed weights into `tempo.py`.

    python -m livedrum.audio.tempo_fit --songs 80 --split train
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from livedrum.audio.rendered import band_beats, pick_songs, render_band
from livedrum.audio.source import analyse_file
from livedrum.audio.tempo import (
    OCTAVE_FEATURES,
    beat_chain,
    beat_f_measure,
    file_period,
    normalise_envelope,
    octave_candidates,
    octave_features,
)

MIN_GAP = 0.02  # pairs closer in F-measure than this teach nothing


@dataclass
class SongCandidates:
    """One song's tempo-octave candidates: features (candidates x OCTAVE_FEATURES) and beat F-measure."""

    label: str
    features: np.ndarray
    f_measure: np.ndarray


def song_candidates(label: str, flux: np.ndarray, hop_s: float, t0: float, reference: np.ndarray) -> SongCandidates:
    """Track every candidate of one analysed song and score it against `reference` beats (seconds),
    over the band's span as `benchmarks/beat_tracking.py` does."""
    env = normalise_envelope(flux, hop_s)
    period = file_period(env, hop_s)
    feats, scores = [], []
    for candidate in octave_candidates(period, hop_s):
        hops = beat_chain(env, candidate)
        beats = t0 + (hops + 1) * hop_s
        beats = beats[(beats >= reference[0] - 0.2) & (beats <= reference[-1] + 0.2)]
        feats.append(octave_features(env, hops, candidate, hop_s))
        scores.append(beat_f_measure(reference, beats))
    return SongCandidates(label, np.array(feats), np.array(scores))


def fit_ranker(songs: list[SongCandidates], l2: float = 25.0) -> np.ndarray:
    """Weights w (one per feature) for which a better candidate of a song scores higher in features @ w.
    Features are standardised for the fit (so that `l2` treats them alike) and the weights returned
    for the raw features."""
    every = np.concatenate([s.features for s in songs])
    mean, std = every.mean(0), every.std(0) + 1e-9
    diffs, gaps = [], []
    for s in songs:
        z = (s.features - mean) / std
        for i in range(len(z)):
            for j in range(len(z)):
                if s.f_measure[i] - s.f_measure[j] > MIN_GAP:
                    diffs.append(z[i] - z[j])
                    gaps.append(s.f_measure[i] - s.f_measure[j])
    if not diffs:
        return np.zeros(every.shape[1])
    x = torch.tensor(np.array(diffs), dtype=torch.float64)
    gap = torch.tensor(gaps, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        opt.zero_grad()
        value = (gap * torch.nn.functional.softplus(-(x @ w))).sum() / gap.sum() + l2 * (w @ w) / len(x)
        value.backward()
        return value

    opt.step(loss)
    return w.detach().numpy() / std


def chosen_f(songs: list[SongCandidates], weights: np.ndarray) -> float:
    """Mean F-measure of the candidates the ranker picks (the first, the found tempo, on ties)."""
    return float(np.mean([s.f_measure[int(np.argmax(s.features @ weights))] for s in songs]))


def leave_one_out(songs: list[SongCandidates], l2: float) -> float:
    """Mean F-measure on each song of a ranker fitted on all the others."""
    return float(np.mean([
        s.f_measure[int(np.argmax(s.features @ fit_ranker(songs[:i] + songs[i + 1:], l2)))]
        for i, s in enumerate(songs)]))


def collect(n: int, split: str, cache: Path, data: str | None = None) -> list[SongCandidates]:
    """Render (cached), analyse and track the candidates of `n` songs of `split`."""
    out = []
    for label, blob, song in tqdm(pick_songs(n, data, split), desc="songs", unit="song"):
        try:
            analyzer = analyse_file(render_band(blob, cache))
        except (ValueError, OSError, EOFError) as exc:
            tqdm.write(f"skipped {label}: {exc}", file=sys.stderr)
            continue
        reference = song.seconds_at(band_beats(song))
        out.append(song_candidates(label, np.asarray(analyzer.flux), analyzer.hop_s,
                                   analyzer.t0 - analyzer.flux_lag_s, reference))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=80)
    parser.add_argument("--split", default="train", choices=["train", "validation", "test"])
    parser.add_argument("--check", default="validation", help="also report on this split's songs ('' for none)")
    parser.add_argument("--check-songs", type=int, default=24)
    parser.add_argument("--cache", help="rendered audio folder (default: cache/audio-SPLIT)")
    parser.add_argument("--data", help="data root (default: $LIVEDRUM_DATA or ../shared/data)")
    parser.add_argument("--l2", type=float, default=25.0)
    args = parser.parse_args(argv)
    songs = collect(args.songs, args.split, Path(args.cache or f"cache/audio-{args.split}"), args.data)
    weights = fit_ranker(songs, args.l2)
    first = np.zeros(len(OCTAVE_FEATURES))
    print(f"{args.split}, {len(songs)} songs: found tempo {chosen_f(songs, first):.3f}, "
          f"ranker {chosen_f(songs, weights):.3f} (fitted on them), "
          f"{leave_one_out(songs, args.l2):.3f} (each song left out of its fit), "
          f"best candidate {np.mean([s.f_measure.max() for s in songs]):.3f}")
    if args.check:
        held = collect(args.check_songs, args.check, Path(f"cache/audio-{args.check}"), args.data)
        print(f"{args.check}, {len(held)} songs: found tempo {chosen_f(held, first):.3f}, "
              f"ranker {chosen_f(held, weights):.3f}, best candidate {np.mean([s.f_measure.max() for s in held]):.3f}")
    print("OCTAVE_WEIGHTS = np.array([" + ", ".join(f"{w:.6g}" for w in weights) + "])")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
