"""What `livedrum train` does after the dataset is built: train, calibrate, export the model."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import torch

from livedrum.batches import train_song
from livedrum.calibrate import calibrate
from livedrum.checkpoint import load_model, read_checkpoint, save_checkpoint
from livedrum.train import TrainConfig, distributed, train


def train_drumnet_job(args: argparse.Namespace, cfg: TrainConfig, records: dict) -> int:
    train_songs = [train_song(r.song_id, r.collection, r.arrays, r.bpm) for r in records["train"]]
    val_songs = [train_song(r.song_id, r.collection, r.arrays, r.bpm) for r in records["validation"]]
    if not train_songs:
        raise ValueError("no training songs after the split (need songs with band and drums)")
    rank, _ = distributed()
    if rank == 0:
        print(f"training on {len(train_songs)} songs, validating on {len(val_songs)}", flush=True)
    result = train(cfg, train_songs, val_songs, resume=args.resume)
    if not result["history"]:
        raise ValueError(f"nothing trained: {cfg.out}/last.pt already reached {cfg.epochs} epochs")
    if rank == 0:
        calibration = list(val_songs)
        random.Random(0).shuffle(calibration)  # a spread over collections, the same every run
        export_model(Path(cfg.out), calibration[: args.calibrate_songs] or train_songs[:10], train_songs)
    return 0


def export_model(out: Path, calibration_songs: list, train_songs: list | None = None) -> Path:
    """best.pt -> model.pt: weights and config only, with sampling defaults from validation. A model
    with a groove selector (`--selector-templates K`) gets it fitted on `train_songs` first."""
    best = out / "best.pt" if (out / "best.pt").exists() else out / "last.pt"
    net, ckpt = load_model(best)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    path = out / "model.pt"
    if net.selector is not None and train_songs:
        from livedrum.selector_fit import export_with_selector

        export_with_selector(net, {**ckpt, "epoch": ckpt["epoch"] + 1}, train_songs, calibration_songs, path,
                             net.cfg.selector_templates, len(calibration_songs), hidden=net.cfg.selector_hidden)
        read_checkpoint(path)
        return path
    chosen, _ = calibrate(net, calibration_songs)
    model = {
        "model_config": ckpt["model_config"], "model": ckpt["model"], "sampling": chosen,
        "epoch": ckpt["epoch"] + 1, "history": ckpt["history"], "train_config": ckpt["train_config"],
    }
    save_checkpoint(path, model)
    print(f"wrote {path}: sampling {chosen}", flush=True)
    read_checkpoint(path)
    return path


def train_thesis_job(args: argparse.Namespace, cfg: TrainConfig) -> int:
    from livedrum.corpus import data_root, default_paths, discover
    from livedrum.thesis import ThesisConfig, load_songs, train_thesis

    paths = args.paths or default_paths(data_root(args.data))
    sources = discover(paths)
    train_songs = list(load_songs(sources, "train"))
    val_songs = list(load_songs(sources, "validation"))
    train_thesis(train_songs, val_songs, ThesisConfig(epochs=cfg.epochs), Path(cfg.out))
    return 0


def train_thesis_wav_job(args: argparse.Namespace, cfg: TrainConfig) -> int:
    """The seed thesis' WAV network: the openings of training songs rendered to audio, then trained."""
    from livedrum.corpus import data_root, default_paths
    from livedrum.thesis_wav import ThesisWavConfig, train_thesis_wav
    from livedrum.thesis_wav_data import corpus_openings, librosa_module

    librosa_module()  # missing: one line, before any rendering
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    config = ThesisWavConfig(epochs=cfg.epochs, max_batches=cfg.max_batches, seed=cfg.seed, songs=args.wav_songs,
                             seconds=args.wav_seconds, val_songs=cfg.val_songs or ThesisWavConfig.val_songs)
    paths = args.paths or default_paths(data_root(args.data))
    cache = Path(args.wav_cache)
    train = list(corpus_openings(paths, cache, "train", config.songs, config.seconds))
    val = list(corpus_openings(paths, cache, "validation", config.val_songs, config.seconds))
    if not train:
        raise ValueError("nothing to train on: no training song with band and drums could be rendered")
    print(f"thesis-wav: {len(train)} training and {len(val)} validation songs rendered "
          f"(first {config.seconds:g} s each, in {cache})", flush=True)
    train_thesis_wav(train, val, config, Path(cfg.out))
    return 0
