"""Fine-tune the shipped drummer per genre: `python -m livedrum.style_tune --style NAME|all`.

Only the decoder's input weights, biases, context projection and heads are tuned (styles.TUNED,
about 70k of 291k parameters), on the style loops labelled with that genre, starting from the base
model and validated on that genre's validation songs (the project's split by song). The result is a
small delta file per style beside the model (`models/styles/<name>.pt`). A genre with too little
data (no validation song, or too few training files) gets no file: its preset plays the base weights.

A genre with fewer than MIN_VAL_SONGS validation songs in the project split has whole songs of its
training loops held out as validation (chosen by a salted hash of the song id, so alternative files
of one song stay together and the choice is the same on every run); they are never trained on. The
test split is never touched. Blues also trains on the shuffle training loops (POOLS), validated on
blues songs only: four of the five blues loops play on the triplet grid, as shuffles do
(see models/README.md).

Reads the built dataset cache (`livedrum train` builds it), so nothing is parsed twice.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from livedrum.batches import TrainSong, make_batch, plan_streams, train_song
from livedrum.calibrate import grid_of, real_drums
from livedrum.checkpoint import load_model
from livedrum.dataset import FLOAT_KEYS, MANIFEST
from livedrum.engine import Engine
from livedrum.features import SongArrays
from livedrum.grid import STEPS_PER_BEAT
from livedrum.metrics import hit_f1
from livedrum.model import DrumNet
from livedrum.perform import perform, windows_to_notes
from livedrum.sampler import Sampling
from livedrum.styles import STYLES, TUNED, genre_of, save_style
from livedrum.train import EVAL_VOICES, TrainConfig, loss_terms, validate
from livedrum.vocab import N_VOICES

MIN_TRAIN_FILES = 8
MIN_VAL_FILES = 1
MIN_VAL_SONGS = 3  # fewer in the project split: training songs are held out to make up the number
# style -> related styles whose training loops it trains on too (never their held-out or test songs)
POOLS: dict[str, tuple[str, ...]] = {"blues": ("shuffle",)}
_HOLDOUT_SALT = "livedrum-style-holdout:"  # so the order is unrelated to the project split's hash

Labelled = dict[str, dict[str, list[TrainSong]]]  # style -> split -> songs
Hours = dict[tuple[str, str], float]  # (style, song id) -> hours of that song's loops


@dataclass
class StyleSets:
    """What one style trains, validates and is tested on, and how its validation set was made."""

    train: list[TrainSong]
    validation: list[TrainSong]
    test: list[TrainSong]
    policy: str
    held_out: list[str] = field(default_factory=list)  # song ids moved from training to validation
    pooled: dict[str, int] = field(default_factory=dict)  # other style -> its training files added
    own_train: int = 0  # training files of the style itself


def holdout_order(song_ids: list[str]) -> list[str]:
    """The distinct song ids in the order they are held out: by a salted hash of the id, so the
    order is the same on every machine and run, whatever order the files come in."""
    return sorted(set(song_ids), key=lambda s: (hashlib.sha1((_HOLDOUT_SALT + s).encode()).hexdigest(), s))


def hold_out(train: list[TrainSong], validation: list[TrainSong],
             min_songs: int = MIN_VAL_SONGS) -> tuple[list[TrainSong], list[TrainSong], list[str]]:
    """(train, validation, held-out song ids) with validation made up to `min_songs` distinct songs
    from whole training songs: every file of a held-out song id moves, so no alternative file of a
    validation song is ever trained on."""
    have = {s.song_id for s in validation}
    order = [sid for sid in holdout_order([s.song_id for s in train]) if sid not in have]
    moved = set(order[: max(0, min_songs - len(have))])
    return ([s for s in train if s.song_id not in moved],
            validation + [s for s in train if s.song_id in moved], sorted(moved))


def style_sets(songs: Labelled, style: str, min_songs: int = MIN_VAL_SONGS) -> StyleSets:
    """The style's sets: the project split, validation made up by `hold_out` where it has fewer than
    `min_songs` songs, and the training loops of its POOLS styles (after their own hold-out)."""
    own = songs[style]
    n_val = len({s.song_id for s in own.get("validation", [])})
    train, val, held = hold_out(own.get("train", []), own.get("validation", []), min_songs)
    policy = f"project split ({n_val} song{'' if n_val == 1 else 's'})"
    if held:
        policy += f" + {len(held)} training songs held out (salted hash of the song id)"
    sets = StyleSets(train, val, own.get("test", []), policy, held, own_train=len(train))
    val_ids = {s.song_id for s in val}
    for other in POOLS.get(style, ()):
        theirs, _, _ = hold_out(songs[other].get("train", []), songs[other].get("validation", []), min_songs)
        theirs = [s for s in theirs if s.song_id not in val_ids]
        sets.train = sets.train + theirs
        sets.pooled[other] = len(theirs)
        sets.policy += f"; trains on {len(theirs)} {other} training files too"
    return sets


def hours_of(hours: Hours, style: str, songs: list[TrainSong]) -> float:
    """Hours of the songs' loops (each song id counted once, under the style it was labelled)."""
    ids = {s.song_id for s in songs}
    return sum(v for (st, sid), v in hours.items() if sid in ids and (st == style or st in POOLS.get(style, ())))


def style_songs(cache: Path) -> tuple[Labelled, Hours]:
    """Every genre-labelled song of the cache, by style and split, and hours per style and song.

    Reads only the shards (and rows) that hold labelled songs."""
    try:
        manifest = json.loads((cache / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"no built dataset in {cache}: run `livedrum train` (or its build) first") from exc
    songs: Labelled = {s: {} for s in STYLES}
    seconds: Hours = {}  # in seconds until the return
    for split, names in manifest["shards"].items():
        for name in names:
            with np.load(cache / split / name) as shard:
                labels = [str(x) for x in shard["label"]]
                wanted = [(i, genre_of(label)) for i, label in enumerate(labels)]
                wanted = [(i, g) for i, g in wanted if g is not None]
                if not wanted:
                    continue
                data = {k: shard[k] for k in (*FLOAT_KEYS, "hits", "bar", "beat_in_bar", "step_offsets",
                                              "beat_offsets", "song_id", "collection", "seconds")}
            steps, beats = data["step_offsets"], data["beat_offsets"]
            for i, genre in wanted:
                s, b = slice(steps[i], steps[i + 1]), slice(beats[i], beats[i + 1])
                arrays = SongArrays(
                    band=data["band"][s].astype(np.float32), position=data["position"][s].astype(np.float32),
                    hits=data["hits"][s], velocity=data["velocity"][s].astype(np.float32),
                    offset=data["offset"][s].astype(np.float32),
                    bar=data["bar"][b], beat_in_bar=data["beat_in_bar"][b],
                )
                song = train_song(str(data["song_id"][i]), str(data["collection"][i]), arrays)
                songs[genre].setdefault(split, []).append(song)
                key = (genre, song.song_id)
                seconds[key] = seconds.get(key, 0.0) + float(data["seconds"][i])
    return songs, {k: v / 3600 for k, v in seconds.items()}


def data_table(songs: Labelled, hours: Hours) -> str:
    """Markdown: files and hours per style and set (after hold-out and pooling), and whether the
    style can be tuned."""
    lines = ["| style | train files | train h | validation files | validation h | test files | validation set "
             "| tuned |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for style in STYLES:
        sets = style_sets(songs, style)
        train = f"{sets.own_train}" + "".join(f" + {n} {o}" for o, n in sets.pooled.items())
        tuned = "yes" if enough(sets) else "no: " + why_not(sets)
        lines.append(f"| {style} | {train} | {hours_of(hours, style, sets.train):.2f} | {len(sets.validation)} | "
                     f"{hours_of(hours, style, sets.validation):.2f} | {len(sets.test)} | {sets.policy} | {tuned} |")
    return "\n".join(lines)


def enough(sets: StyleSets) -> bool:
    return not why_not(sets)


def why_not(sets: StyleSets) -> str:
    if len(sets.validation) < MIN_VAL_FILES:
        return "no validation song"
    if len(sets.train) < MIN_TRAIN_FILES:
        return f"{len(sets.train)} training files (< {MIN_TRAIN_FILES})"
    return ""


def base_sampling(ckpt: dict) -> Sampling:
    """The model file's calibrated sampling, as `livedrum accompany` plays it without a preset."""
    cal = ckpt.get("sampling", {})
    return Sampling(complexity=cal.get("complexity", 0.5), bias=cal.get("bias", 0.0),
                    consistency=cal.get("consistency", 0.0), piece_bias=tuple(cal.get("piece_bias", {}).items()),
                    groove=cal.get("groove", "none"))


def song_f1(net: DrumNet, songs: list[TrainSong], sampling: Sampling, seed: int = 0) -> dict[str, float]:
    """`livedrum eval`'s metric on cached songs: hit F1 (kick/snare/hi-hat, +-1/8 beat) as live,
    the mean over songs, and the density (generated over real notes)."""
    f1s, n_est, n_ref = [], 0, 0
    for song in songs:
        ref = real_drums(song)
        est = windows_to_notes(perform(grid_of(song), Engine(net, sampling, seed)))
        score = hit_f1(ref, est)["mean"]
        if score is not None:
            f1s.append(score)
        n_est, n_ref = n_est + len(est), n_ref + len(ref)
    return {"f1": float(np.mean(f1s)) if f1s else float("nan"), "density": n_est / max(1, n_ref), "songs": len(f1s)}


SHIFTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0)


def shifted(net: DrumNet, shift: float) -> DrumNet:
    """A copy of `net` whose hit logits are all moved by `shift` (the head's hit biases)."""
    out = copy.deepcopy(net)
    with torch.no_grad():
        out.decoder.head.bias[: out.cfg.n_voices] += shift
    return out


def calibrate_shift(net: DrumNet, songs: list[TrainSong], sampling: Sampling, max_beats: int = 128) -> float:
    """The hit-logit shift that plays the style's *training* loops best (F1 among shifts whose
    density is 0.7..1.4): a tuned decoder is surer of its hits than the base, whose calibrated
    bias would make it play twice as densely as the loops do."""
    cut = []
    for song in songs:
        n = min(song.n_beats, max_beats)
        a = song.arrays
        S = STEPS_PER_BEAT
        arrays = SongArrays(band=a.band[: n * S], position=a.position[: n * S], hits=a.hits[: n * S],
                            velocity=a.velocity[: n * S], offset=a.offset[: n * S], bar=a.bar[:n],
                            beat_in_bar=a.beat_in_bar[:n])
        cut.append(train_song(song.song_id, song.collection, arrays))
    trials = [(shift, song_f1(shifted(net, shift), cut, sampling)) for shift in SHIFTS]
    plausible = [t for t in trials if 0.7 <= t[1]["density"] <= 1.4]
    if not plausible:  # none plays like the loops: the one closest in density
        return min(trials, key=lambda t: abs(np.log(max(t[1]["density"], 1e-3))))[0]
    return max(plausible, key=lambda t: t[1]["f1"])[0]


def tune(base: DrumNet, train: list[TrainSong], val: list[TrainSong], seconds: float, lr: float,
         sampling: Sampling, seed: int = 0, patience: int = 6, log: bool = True) -> tuple[DrumNet, list[dict]]:
    """Fine-tune a copy of `base` (TUNED tensors only) for at most `seconds`.

    The epoch that plays the validation songs best wins (live hit F1, as `livedrum eval` scores;
    ties by the teacher-forced hit loss), epoch 0 being the base itself: the teacher-forced loss
    alone picked epochs that played no better live. Stops after `patience` epochs with neither
    number improving."""
    torch.manual_seed(seed)
    net = copy.deepcopy(base)
    for name, p in net.named_parameters():
        p.requires_grad_(name in TUNED)
    cfg = TrainConfig(streams=min(16, len(train)), chunk_beats=16)
    vcfg = TrainConfig(streams=min(16, len(val)), chunk_beats=16)
    weights = torch.ones(N_VOICES)
    weights[EVAL_VOICES] = cfg.eval_weight
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)

    def measure(epoch: int, **extra: float) -> dict:
        row = {"epoch": epoch, **validate(net, val, vcfg, weights, torch.device("cpu")),
               "live_f1": song_f1(net.eval(), val, sampling)["f1"], **extra}
        if log:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        return row

    history = [measure(0)]
    score = (history[0]["live_f1"], -history[0]["val_hit"])
    best_state, low, stale = copy.deepcopy(net.state_dict()), history[0]["val_hit"], 0
    t0, epoch = time.time(), 0
    while time.time() - t0 < seconds and stale < patience:
        epoch += 1
        rng = np.random.default_rng(seed * 1000 + epoch)
        streams = plan_streams(train, cfg.streams, cfg.chunk_beats, rng)
        state = net.zero_state(len(streams))
        net.train()
        for j in range(max(len(s) for s in streams)):
            batch = make_batch(train, streams, j, cfg.chunk_beats)
            if batch.valid.mean() < 0.25:
                continue
            loss, _, state, _, _ = loss_terms(net, batch, state, weights, torch.device("cpu"))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
        row = measure(epoch, seconds=round(time.time() - t0, 1))
        history.append(row)
        stale += 1
        if (row["live_f1"], -row["val_hit"]) > score:
            score, best_state, stale = (row["live_f1"], -row["val_hit"]), copy.deepcopy(net.state_dict()), 0
        if row["val_hit"] < low:
            low, stale = row["val_hit"], 0
    net.load_state_dict(best_state)
    return net.eval(), history


def best_row(history: list[dict]) -> dict:
    """The epoch `tune` kept."""
    return max(history, key=lambda h: (h["live_f1"], -h["val_hit"]))


def _key(row: dict) -> tuple[float, float]:
    return row["live_f1"], -row["val_hit"]


def plot_f1(summary: dict[str, dict], path: Path) -> None:
    """Bars per style: live F1 on that style's validation songs, base weights vs the style's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s for s in STYLES if s in summary and summary[s].get("weights") != "base"]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(x - 0.2, [summary[s]["f1_base"] for s in names], 0.4, label="base weights")
    ax.bar(x + 0.2, [summary[s]["f1"] for s in names], 0.4, label="fine-tuned for the style")
    songs = [summary[s].get("validation_songs", summary[s]["validation_files"]) for s in names]
    ax.set_xticks(x, [f"{s}\n({n} songs)" for s, n in zip(names, songs)])
    ax.set_ylabel("hit F1 (kick/snare/hi-hat)"), ax.legend(loc="lower right")
    ax.set_title("livedrum eval F1 on each style's validation songs")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m livedrum.style_tune", description=__doc__.splitlines()[0],
                                epilog="example: nice python -m livedrum.style_tune --style all "
                                       "--from models/livedrum-default.pt --cache cache/full --seconds 150")
    p.add_argument("--style", default="all", help=f"one of {', '.join(STYLES)}, or all")
    p.add_argument("--from", dest="base", default="models/livedrum-default.pt", help="the base model")
    p.add_argument("--cache", default="cache/full", help="the dataset cache `livedrum train` built")
    p.add_argument("--out", default=None, help="folder for the style files (default: styles/ beside --from)")
    p.add_argument("--seconds", type=float, default=150.0, help="training time per style")
    p.add_argument("--lr", default="0.003,0.001,0.0003",
                   help="learning rates to try (comma-separated); the best on validation wins")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--table", action="store_true", help="print the data per style and stop")
    args = p.parse_args(argv)
    try:
        return _run(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.style != "all" and args.style not in STYLES:
        raise ValueError(f"unknown style {args.style!r} (known: {', '.join(STYLES)}, all)")
    torch.set_num_threads(max(1, args.threads))
    try:
        rates = [float(x) for x in str(args.lr).split(",") if x.strip()]
    except ValueError as exc:
        raise ValueError(f"--lr takes numbers separated by commas, got {args.lr!r}") from exc
    if not rates or any(not 0 < r < 1 for r in rates):
        raise ValueError(f"--lr takes learning rates within 0..1, got {args.lr!r}")
    songs, hours = style_songs(Path(args.cache))
    print(data_table(songs, hours), flush=True)
    if args.table:
        return 0
    base, ckpt = load_model(args.base)
    out = Path(args.out) if args.out else Path(args.base).parent / "styles"
    sampling = base_sampling(ckpt)
    results = {}
    for style in STYLES if args.style == "all" else (args.style,):
        sets = style_sets(songs, style)
        if not enough(sets):
            print(f"{style}: not tuned ({why_not(sets)}); its preset plays the base weights", flush=True)
            (out / f"{style}.pt").unlink(missing_ok=True)
            continue
        train, val, test = sets.train, sets.validation, sets.test
        print(f"{style}: tuning on {len(train)} files, validating on {len(val)} ({sets.policy})", flush=True)
        tuned, history, lr, tried = None, [], 0.0, []
        for rate in rates:  # the learning rate is chosen on validation, like the epoch
            net, hist = tune(base, train, val, args.seconds, rate, sampling, args.seed)
            tried += [{**row, "lr": rate} for row in hist[1:]]
            if tuned is None or _key(best_row(hist)) > _key(best_row(history)):
                tuned, history, lr = net, hist, rate
        best = best_row(history)
        record = {"train_files": len(train), "validation_files": len(val),
                  "validation_songs": len({s.song_id for s in val}), "validation_policy": sets.policy,
                  "held_out": sets.held_out, "pooled": sets.pooled,
                  "train_hours": round(hours_of(hours, style, train), 3), "test_files": len(test)}
        if best["epoch"] == 0:  # tuning did not beat the base on validation: no file
            top = best_row(tried) if tried else None  # recorded, so the outcome is in the summary
            results[style] = {"weights": "base", **record, "f1_base": best["live_f1"],
                              "density_base": song_f1(base, val, sampling)["density"],
                              "test_f1_base": song_f1(base, test, sampling)["f1"] if test else None,
                              "f1_best_tuned": top["live_f1"] if top else None,
                              "best_tuned_lr": top["lr"] if top else None,
                              "best_tuned_epoch": top["epoch"] if top else None,
                              "seconds": args.seconds, "seed": args.seed}
            print(f"{style}: not written: no epoch played the validation songs better than the base weights "
                  f"(F1 {best['live_f1']:.3f}, best tuned epoch {top['live_f1'] if top else float('nan'):.3f}); "
                  "its preset plays the base weights", flush=True)
            (out / f"{style}.pt").unlink(missing_ok=True)
            continue
        shift = calibrate_shift(tuned, train, sampling)  # density matched on the training loops ...
        if shift and song_f1(shifted(tuned, shift), val, sampling)["f1"] >= best["live_f1"]:
            tuned = shifted(tuned, shift)  # ... kept where it does not cost validation F1
        else:
            shift = 0.0
        base_shift = calibrate_shift(base, train, sampling)  # ablation: the base, its density matched only
        before, after = song_f1(base, val, sampling), song_f1(tuned, val, sampling)
        only_shift = song_f1(shifted(base, base_shift), val, sampling)
        # the test split is never used to choose anything: the honest figure
        test_before, test_after = (song_f1(base, test, sampling), song_f1(tuned, test, sampling)) if test else ({}, {})
        metrics = {"train_files": len(train), "validation_files": len(val),
                   "train_hours": record["train_hours"], "best_epoch": best["epoch"],
                   "epochs": history[-1]["epoch"], "val_hit_base": history[0]["val_hit"],
                   "val_hit": best["val_hit"], "val_step_f1_base": history[0]["val_step_f1"],
                   "val_step_f1": best["val_step_f1"], "f1_base": before["f1"], "f1": after["f1"],
                   "density_base": before["density"], "density": after["density"], "shift": shift,
                   "f1_base_shifted": only_shift["f1"], "base_shift": base_shift, "test_files": len(test),
                   "test_f1_base": test_before.get("f1"), "test_f1": test_after.get("f1"),
                   "seconds": args.seconds, "lr": lr, "seed": args.seed,
                   **{k: record[k] for k in ("validation_songs", "validation_policy", "held_out", "pooled")}}
        save_style(out / f"{style}.pt", style, base, tuned, metrics)
        results[style] = metrics
        print(f"{style}: wrote {out / f'{style}.pt'} (lr {lr:g}): live F1 {before['f1']:.3f} -> {after['f1']:.3f}, "
              f"density {before['density']:.2f} -> {after['density']:.2f} (shift {shift:+.1f}; base shifted "
              f"{base_shift:+.1f} only: F1 {only_shift['f1']:.3f}), "
              f"test F1 {test_before.get('f1', float('nan')):.3f} -> {test_after.get('f1', float('nan')):.3f}, "
              f"val hit loss {history[0]['val_hit']:.4f} -> {best['val_hit']:.4f} (epoch {best['epoch']})", flush=True)
    if results:
        summary = out / "summary.json"
        old = json.loads(summary.read_text()) if summary.is_file() else {}
        # a tuned entry lives as long as its file; a "weights": "base" one records a style left untuned
        merged = {k: v for k, v in {**old, **results}.items()
                  if (out / f"{k}.pt").is_file() != (v.get("weights") == "base")}
        summary.write_text(json.dumps(merged, indent=1) + "\n")
        plot_f1(merged, out / "f1.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
