"""Fit the audio groove selector: the model's MIDI selector, trained further on rendered bands' audio.

The MIDI selector hears a microphone's features as another band (it chose shuffle patterns for a
straight one), so audio input played the seed groove. Here training songs are rendered without their
drums and analysed as `accompany` does; their band features are taken on the song's TRUE beats (the
tracked ones put a third of the bars elsewhere, and such labels teach shifted patterns), and the real
drums of each bar score the selector's patterns as in `livedrum.selector_fit`. Whole songs are held out
to choose the epoch (the MIDI selector itself, untrained further, among them); the result is the model
file with an `audio_selector`, which `accompany IN.wav` and `run --audio-in` use.

    python -m livedrum.audio.selector_fit --from models/livedrum-default.pt --songs 80 --out runs/audio.pt
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from livedrum.audio.accompany import grid_on
from livedrum.audio.rendered import pick_songs, render_band
from livedrum.audio.source import analyse_file
from livedrum.checkpoint import load_model, save_checkpoint
from livedrum.features import drum_targets, positions_for
from livedrum.model import DrumNet
from livedrum.selector import SongBars, fine_tune_selector, song_bars
from livedrum.song import Song


def true_grid_bars(song: Song, wav: Path) -> SongBars | None:
    """The 4/4 bars of a rendered song: its audio's band features on its true beats, its real drums."""
    beats = int(np.ceil(song.length_beats))
    times = np.asarray(song.seconds_at(np.arange(beats + 1, dtype=np.float64)))
    signatures = list(song.time_signatures)
    grid = grid_on(analyse_file(wav), times, signatures)
    hits, _, _ = drum_targets(song.drums, len(grid.band))  # the labels the MIDI selector learned from
    _, _, beat_in_bar = positions_for(beats, signatures)
    bpm = 60.0 / float(np.median(np.diff(times)))
    return song_bars(grid.band, hits, beat_in_bar, grid.bar_beats, bpm)


def collect(n: int, cache: Path, data: str | None = None) -> list[SongBars]:
    """The true-grid bars of `n` rendered training songs (renders cached in `cache`)."""
    out = []
    for label, blob, song in tqdm(pick_songs(n, data, "train"), desc="songs", unit="song"):
        try:
            bars = true_grid_bars(song, render_band(blob, cache))
        except (ValueError, OSError, EOFError) as exc:
            tqdm.write(f"skipped {label}: {exc}", file=sys.stderr)
            continue
        if bars is not None:
            out.append(bars)
    return out


def with_audio_selector(net: DrumNet, bars: list[SongBars], held_out: float = 1 / 6, epochs: int = 4,
                        seed: int = 0) -> tuple[DrumNet, dict]:
    """A copy of `net` with an audio selector: its MIDI selector fine-tuned on `bars`, the epoch chosen on
    a held-out share of the songs (a stable shuffle of them)."""
    if net.selector is None:
        raise ValueError("the model has no groove selector to start from (python -m livedrum.selector_fit)")
    order = np.random.default_rng(seed).permutation(len(bars))
    n_val = max(1, int(round(len(bars) * held_out)))
    validation = [bars[i] for i in order[:n_val]]
    train = [bars[i] for i in order[n_val:]]
    selector, figures = fine_tune_selector(net.selector, train, validation, epochs=epochs, seed=seed)
    out = DrumNet(replace(net.cfg, audio_selector=True))
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("audio_selector.")}
    state.update({f"audio_selector.{k}": v for k, v in selector.state_dict().items()})
    out.load_state_dict(state)
    return out.eval(), {**figures, "songs": len(bars), "held_out_songs": n_val}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m livedrum.audio.selector_fit", description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="base", default="models/livedrum-default.pt", help="the model to start from")
    p.add_argument("--out", required=True, help="the model file to write")
    p.add_argument("--songs", type=int, default=80, help="rendered training songs")
    p.add_argument("--cache", default="cache/audio-train", help="rendered audio folder")
    p.add_argument("--data", help="data root (default: $LIVEDRUM_DATA or ../shared/data)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    net, ckpt = load_model(args.base)
    bars = collect(args.songs, Path(args.cache), args.data)
    net, figures = with_audio_selector(net, bars, epochs=args.epochs, seed=args.seed)
    sampling = dict(ckpt.get("sampling", {}))
    sampling["audio_selector"] = {k: v for k, v in figures.items() if k != "history"}
    model = {k: v for k, v in ckpt.items() if k not in ("format", "version", "optimizer")}
    model.update({"model_config": net.cfg.to_dict(), "model": net.state_dict(), "sampling": sampling})
    save_checkpoint(Path(args.out), model)
    print(f"wrote {args.out}: audio selector {sampling['audio_selector']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
