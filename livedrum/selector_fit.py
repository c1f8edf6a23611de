"""Give a trained drummer its groove selector: `python -m livedrum.selector_fit --from MODEL --out MODEL`.

`livedrum train --selector-templates K` does the same at export. This module fits the selector of
selector.py on the training songs' 4/4 bars (the encoder-decoder is left as it is), then calibrates
the sampling with the chosen grooves on validation songs and writes the model file. Reads the built
dataset cache (`livedrum train` builds it), so nothing is parsed twice.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from livedrum.batches import TrainSong, bar_lengths, train_song
from livedrum.calibrate import calibrate
from livedrum.checkpoint import load_model, save_checkpoint
from livedrum.dataset import load_split
from livedrum.model import DrumNet, ModelConfig
from livedrum.selector import SelectorConfig, SongBars, fit_selector, song_bars


def bars_of(songs: Sequence[TrainSong]) -> list[SongBars]:
    out = []
    for song in songs:
        a = song.arrays
        bars = song_bars(a.band, a.hits, a.beat_in_bar, bar_lengths(a), song.bpm, song.collection)
        if bars is not None:
            out.append(bars)
    return out


def with_selector(
    net: DrumNet, train: Sequence[TrainSong], validation: Sequence[TrainSong], templates: int = 32,
    epochs: int = 10, seed: int = 0, hidden: int = 256,
) -> tuple[DrumNet, dict]:
    """A copy of `net` whose config and weights include a selector fitted on the songs, and its figures."""
    cfg = SelectorConfig(templates, hidden)
    selector, figures = fit_selector(bars_of(train), bars_of(validation), cfg, epochs, seed)
    # an audio selector grew from the selector replaced here: it goes too (livedrum.audio.selector_fit refits it)
    model_cfg: ModelConfig = replace(net.cfg, selector_templates=templates, selector_hidden=hidden,
                                     audio_selector=False)
    out = DrumNet(model_cfg)
    state = {k: v for k, v in net.state_dict().items() if not k.startswith(("selector.", "audio_selector."))}
    state.update({f"selector.{k}": v for k, v in selector.state_dict().items()})
    out.load_state_dict(state)
    return out.eval(), figures


def export_with_selector(
    net: DrumNet, ckpt: dict, train: Sequence[TrainSong], validation: Sequence[TrainSong], path: Path,
    templates: int = 32, calibrate_songs: int = 30, seed: int = 0, hidden: int = 256,
) -> dict:
    """Fit, calibrate with the chosen grooves, write `path`; returns the calibrated sampling."""
    net, figures = with_selector(net, train, validation, templates, seed=seed, hidden=hidden)
    calibration = list(validation)
    random.Random(0).shuffle(calibration)  # a spread over collections, the same every run
    chosen, _ = calibrate(net, calibration[:calibrate_songs] or list(train[:10]), groove="band")
    chosen["selector"] = {k: v for k, v in figures.items() if k != "history"}
    model = {k: ckpt[k] for k in ("epoch", "history", "train_config") if k in ckpt}  # no optimizer state
    model.update({"model_config": net.cfg.to_dict(), "model": net.state_dict(), "sampling": chosen})
    save_checkpoint(path, model)
    print(f"wrote {path}: sampling {chosen}", flush=True)
    return chosen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m livedrum.selector_fit", description=__doc__.splitlines()[0],
                                epilog="example: python -m livedrum.selector_fit --from models/livedrum-default.pt "
                                       "--cache cache/full --out models/livedrum-default.pt")
    p.add_argument("--from", dest="base", default="models/livedrum-default.pt", help="the trained model")
    p.add_argument("--cache", default="cache/full", help="the dataset cache `livedrum train` built")
    p.add_argument("--out", required=True, help="the model file to write")
    p.add_argument("--templates", type=int, default=32, help="patterns per kit piece")
    p.add_argument("--calibrate-songs", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    try:
        if args.templates < 1:
            raise ValueError(f"--templates must be at least 1, got {args.templates}")
        torch.set_num_threads(max(1, args.threads))
        net, ckpt = load_model(args.base)
        records = {s: load_split(Path(args.cache), s) for s in ("train", "validation")}
        songs = {s: [train_song(r.song_id, r.collection, r.arrays, r.bpm) for r in rs] for s, rs in records.items()}
        export_with_selector(net, ckpt, songs["train"], songs["validation"], Path(args.out), args.templates,
                             args.calibrate_songs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
