"""`livedrum train`: teacher forcing, truncated BPTT over several bars, Adam, plateau LR,
gradient clipping, checkpoints and resume, validation every epoch, a plot at the end.
Runs data-parallel under torchrun (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from livedrum.batches import Batch, TrainSong, make_batch, plan_streams
from livedrum.checkpoint import config_from, read_checkpoint, save_checkpoint
from livedrum.model import DrumNet, ModelConfig
from livedrum.vocab import EVAL_CLASSES, N_VOICES, VOICE_OF_NOTE

THRESHOLDS = (0.15, 0.25, 0.35, 0.5)  # step F1 is reported at the best of these
EVAL_VOICES = sorted(VOICE_OF_NOTE[n] for notes in EVAL_CLASSES.values() for n in notes)


@dataclass
class TrainConfig:
    """A training run; every field has a `--name value` override on the command line."""

    out: str = "runs/default"
    cache: str = "cache/dataset"
    epochs: int = 8
    streams: int = 64  # batch size: songs played side by side
    chunk_beats: int = 16  # truncated BPTT length (4 bars of 4/4)
    lr: float = 2e-3
    weight_decay: float = 1e-5
    clip: float = 1.0
    plateau_patience: int = 1
    early_stop: int = 3  # epochs without validation improvement
    hours_cap: float = 25.0  # per collection per epoch
    max_batches: int = 0  # per epoch, 0 = all (for quick runs and tests)
    val_songs: int = 0  # 0 = all validation songs
    eval_weight: float = 2.0  # kick, snare and hi-hat count double in the loss
    seed: int = 0
    device: str = "cpu"
    threads: int = 0  # torch threads per process, 0 = torch's default
    model: ModelConfig = field(default_factory=ModelConfig)


def loss_terms(
    net: nn.Module, batch: Batch, state: tuple, weights: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, dict[str, float], tuple, torch.Tensor, torch.Tensor]:
    t = {k: torch.from_numpy(getattr(batch, k)).to(device) for k in
         ("band", "position", "lag", "prev_hits", "hits", "velocity", "offset", "valid")}
    keep = torch.from_numpy(~batch.reset).to(device).float().view(1, -1, 1)
    state = (state[0] * keep, state[1] * keep)
    logit, vel, off, final = net(t["band"], t["position"], t["lag"], t["prev_hits"], state)
    valid = t["valid"].float().unsqueeze(-1)  # (B, L, 1)
    bce = nn.functional.binary_cross_entropy_with_logits(logit, t["hits"], reduction="none")
    n_valid = valid.sum().clamp(min=1.0)
    hit_loss = (bce * valid * weights).sum() / (n_valid * weights.sum())
    on = t["hits"] * valid
    n_on = on.sum().clamp(min=1.0)
    vel_loss = (((vel - t["velocity"]) ** 2) * on).sum() / n_on
    off_loss = (((off - t["offset"]) ** 2) * on).sum() / n_on
    loss = hit_loss + 0.5 * vel_loss + 0.5 * off_loss
    parts = {"hit": hit_loss.item(), "velocity": vel_loss.item(), "offset": off_loss.item()}
    return loss, parts, (final[0].detach(), final[1].detach()), logit.detach(), t["hits"] * valid


@torch.no_grad()
def validate(
    net: DrumNet, songs: list[TrainSong], cfg: TrainConfig, weights: torch.Tensor, device: torch.device
) -> dict[str, float]:
    """Teacher-forced validation loss and step-level F1 (best threshold) on kick/snare/hi-hat."""
    net.eval()
    rng = np.random.default_rng(0)
    streams = plan_streams(songs, min(cfg.streams, max(1, len(songs))), cfg.chunk_beats, rng)
    state = net.zero_state(len(streams), device)
    total, parts_sum, n = 0.0, {"hit": 0.0, "velocity": 0.0, "offset": 0.0}, 0
    tp, fp, fn = (np.zeros(len(THRESHOLDS)) for _ in range(3))
    for j in range(max(len(s) for s in streams)):
        batch = make_batch(songs, streams, j, cfg.chunk_beats)
        loss, parts, state, logit, target = loss_terms(net, batch, state, weights, device)
        total += loss.item()
        for k in parts_sum:
            parts_sum[k] += parts[k]
        n += 1
        prob = torch.sigmoid(logit[..., EVAL_VOICES])
        valid = torch.from_numpy(batch.valid).to(device)[..., None].float()
        tgt = target[..., EVAL_VOICES]
        for i, th in enumerate(THRESHOLDS):
            pred = (prob > th).float() * valid
            tp[i] += (pred * tgt).sum().item()
            fp[i] += (pred * (1 - tgt)).sum().item()
            fn[i] += ((1 - pred) * tgt).sum().item()
    net.train()
    f1 = float(np.max(2 * tp / np.maximum(1.0, 2 * tp + fp + fn)))  # at the best threshold
    return {"val_loss": total / max(1, n), **{f"val_{k}": v / max(1, n) for k, v in parts_sum.items()},
            "val_step_f1": f1}


def distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(
    cfg: TrainConfig, train_songs: list[TrainSong], val_songs: list[TrainSong],
    resume: bool = False, progress: bool = True,
) -> dict:
    """Train, checkpointing every epoch into cfg.out; returns the final history."""
    rank, world = distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device if cfg.device != "cuda" else f"cuda:{rank % max(1, torch.cuda.device_count())}")
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed + rank)
    model_cfg = cfg.model
    start_epoch, history, best, stale = 0, [], math.inf, 0
    ckpt = None
    if resume and (out / "last.pt").exists():
        ckpt = read_checkpoint(out / "last.pt")
        model_cfg = config_from(ckpt)
    net = DrumNet(model_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=cfg.plateau_patience)
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start_epoch, history = ckpt["epoch"] + 1, ckpt["history"]
        best, stale = ckpt["best_val"], ckpt.get("stale", 0)
    model = net
    if world > 1:
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    weights = torch.ones(N_VOICES, device=device)
    weights[EVAL_VOICES] = cfg.eval_weight
    val = val_songs[: cfg.val_songs] if cfg.val_songs else val_songs
    for epoch in range(start_epoch, cfg.epochs):
        if stale >= cfg.early_stop:
            break
        t0 = time.time()
        rng = np.random.default_rng(cfg.seed * 1000 + epoch)
        streams = plan_streams(train_songs, cfg.streams * world, cfg.chunk_beats, rng,
                               hours_cap={"*": cfg.hours_cap})[rank::world]
        n_batches = max(len(s) for s in streams)
        if world > 1:  # every rank must take the same number of steps
            n = torch.tensor([n_batches], device=device)
            dist.all_reduce(n, op=dist.ReduceOp.MIN)
            n_batches = int(n.item())
        if cfg.max_batches:
            n_batches = min(n_batches, cfg.max_batches)
        state = net.zero_state(len(streams), device)
        net.train()
        run_loss = 0.0
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress or rank > 0)
        for j in bar:
            batch = make_batch(train_songs, streams, j, cfg.chunk_beats)
            if world == 1 and batch.valid.mean() < 0.25:  # the ragged end of an epoch: mostly idle
                continue
            loss, parts, state, _, _ = loss_terms(model, batch, state, weights, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            run_loss = 0.98 * run_loss + 0.02 * loss.item() if j else loss.item()
            bar.set_postfix(loss=f"{run_loss:.4f}")
        metrics = validate(net, val, cfg, weights, device) if val else {"val_loss": run_loss}
        sched.step(metrics["val_loss"])
        improved = metrics["val_loss"] < best
        best, stale = (metrics["val_loss"], 0) if improved else (best, stale + 1)
        row = {"epoch": epoch + 1, "train_loss": run_loss, **metrics, "lr": opt.param_groups[0]["lr"],
               "seconds": time.time() - t0, "batches": n_batches}
        history.append(row)
        if rank == 0:
            print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
            state_dict = {
                "model_config": model_cfg.to_dict(), "model": net.state_dict(),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "epoch": epoch, "history": history, "best_val": best, "stale": stale,
                "train_config": {k: v for k, v in asdict(cfg).items() if k != "model"},
            }
            save_checkpoint(out / "last.pt", state_dict)
            if improved:
                save_checkpoint(out / "best.pt", state_dict)
    if rank == 0 and history:
        plot_history(history, out / "training.png")
    if dist.is_initialized():
        dist.barrier()
    return {"history": history, "best_val": best}


def plot_history(history: list[dict], path: Path) -> None:
    """Loss and validation F1 per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    a.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend(), a.set_title("loss")
    b.plot(epochs, [h.get("val_step_f1", float("nan")) for h in history], "o-", color="C2")
    b.set_xlabel("epoch"), b.set_ylabel("F1"), b.set_title("validation step F1 (kick/snare/hi-hat)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
