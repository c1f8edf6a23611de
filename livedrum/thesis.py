"""The comparison baseline behind `--model thesis`: the seed thesis' own network, trained and played.

Per band onset event a 512-unit LSTM encoder-decoder (`thesis_model`) maps patterns of 20
events (one-hot pitch | one-hot velocity) to 20 drum events (22 voices + rest, velocity);
`thesis_data` says how the targets are taken from the real drummer. Training: Adam,
teacher forcing, cross-entropy on both heads, validation loss each epoch, early stopping.
Generation: patterns of 20 events in order, nothing carried from one to the next; each
sampled hit is a drum note at its event's onset (one note per voice per onset).

The reference model was trained on CPU, one thread, with (from the repository root):

    mkdir -p runs/thesis && nohup python -c "
    import torch; torch.set_num_threads(1)
    from pathlib import Path
    from livedrum.corpus import discover
    from livedrum.thesis import ThesisConfig, load_songs, train_thesis
    root = Path('/work/shared/data/midi')
    sources = discover([root / 'beatles', root / 'freedoom', root / 'casio'])
    train, val = list(load_songs(sources, 'train')), list(load_songs(sources, 'validation'))
    print(len(train), 'train songs,', len(val), 'validation songs', flush=True)
    train_thesis(train, val, ThesisConfig(epochs=30, max_patterns=24000), Path('runs/thesis'))
    " > runs/thesis/train.log 2>&1 &

(splits from `livedrum.corpus.split_of`; checkpoints `runs/thesis/best.pt` and `last.pt`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from livedrum.song import Notes, Song
from livedrum.thesis_data import (
    band_events,
    load_songs,
    onset_clusters,
    prepare,
    prepare_indices,
)
from livedrum.thesis_model import (
    REST,
    ThesisConfig,
    ThesisNet,
    one_hot_inputs,
    shift_right,
    thesis_loss,
)
from livedrum.vocab import DRUM_NOTES

__all__ = [
    "ThesisConfig", "ThesisNet", "ThesisDrummer", "prepare", "prepare_indices", "train_thesis",
    "load_checkpoint", "load_songs",
]

DRUM_CHANNEL = 9
HIT_LENGTH = 0.1  # beats; drum notes are hits, as in midifile


def _batch_loss(model: ThesisNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    inputs = one_hot_inputs(x[..., 0], x[..., 1])  # (B, T, 256)
    note_logits, vel_logits = model(inputs, shift_right(y))  # (B, T, 23), (B, T, 128)
    return thesis_loss(note_logits, vel_logits, y)


@torch.no_grad()
def _evaluate(model: ThesisNet, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch], y[i : i + batch]
        total += _batch_loss(model, xb, yb).item() * len(xb)
        count += len(xb)
    model.train()
    return total / max(count, 1)


def train_thesis(
    songs_train: list[Song], songs_val: list[Song], config: ThesisConfig, out: Path, progress: bool = True
) -> dict:
    """Train a thesis network; write `out/last.pt` every epoch and `out/best.pt` (lowest validation loss).

    Returns {"best": path, "best_epoch", "best_val_loss", "history": [{epoch, train_loss, val_loss}]};
    `out/history.json` holds the same. Stops early after `config.patience` epochs without progress.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    x, y = prepare_indices(songs_train, config)
    xv, yv = prepare_indices(songs_val, config)
    if len(x) == 0:
        raise ValueError(f"no training patterns: the songs have fewer than {config.pattern} band events")
    if config.max_patterns is not None and len(x) > config.max_patterns:
        keep = np.sort(rng.choice(len(x), config.max_patterns, replace=False))
        x, y = x[keep], y[keep]
    if progress:
        print(f"thesis: {len(x)} training, {len(xv)} validation patterns of {config.pattern} events",
              flush=True)
    model = ThesisNet(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[dict] = []
    best_val, best_epoch, stale = math.inf, 0, 0
    for epoch in range(1, config.epochs + 1):
        t0 = time.time()
        order = torch.from_numpy(rng.permutation(len(x)))
        batches = range(0, len(x), config.batch)
        bar = tqdm(batches, desc=f"epoch {epoch}", disable=None if progress else True, leave=False,
                   mininterval=5)
        total = 0.0
        for i in bar:
            idx = order[i : i + config.batch]
            loss = _batch_loss(model, x[idx], y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        train_loss = total / len(x)
        val_loss = _evaluate(model, xv, yv, config.batch) if len(xv) else train_loss
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "seconds": round(time.time() - t0, 1)})
        ckpt = {"kind": "thesis", "config": config.to_dict(), "model": model.state_dict(),
                "epoch": epoch, "val_loss": val_loss, "train_loss": train_loss}
        torch.save(ckpt, out / "last.pt")
        if val_loss < best_val:
            best_val, best_epoch, stale = val_loss, epoch, 0
            torch.save(ckpt, out / "best.pt")
        else:
            stale += 1
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if progress:
            print(f"epoch {epoch}: train {train_loss:.4f}  val {val_loss:.4f}  "
                  f"({history[-1]['seconds']:.0f} s){'  *' if stale == 0 else ''}", flush=True)
        if stale >= config.patience:
            break
    return {"best": str(out / "best.pt"), "best_epoch": best_epoch, "best_val_loss": best_val,
            "history": history}


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[ThesisNet, dict]:
    """A thesis checkpoint -> (model in eval mode, the checkpoint dict). Loads no pickled code."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "thesis":
        raise ValueError(f"{path} is not a thesis checkpoint")
    model = ThesisNet(ThesisConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


class ThesisDrummer:
    """Plays drums for a song from its band notes: `ThesisDrummer.load(path)(song) -> Notes`."""

    def __init__(self, model: ThesisNet, device: str = "cpu", temperature: float = 1.0, seed: int = 0):
        self.model = model.to(device).eval()
        self.config = model.config
        self.device = device
        self.temperature = temperature
        self.seed = seed

    @classmethod
    def load(
        cls, path: str | Path, device: str = "cpu", temperature: float = 1.0, seed: int = 0
    ) -> ThesisDrummer:
        model, _ = load_checkpoint(path, device)
        return cls(model, device=device, temperature=temperature, seed=seed)

    def __call__(self, song: Song) -> Notes:
        """Drums for the song's band (its own drums are ignored); the same seed gives the same notes."""
        events = band_events(song, self.config)
        n, T = len(events), self.config.pattern
        if n == 0:
            return Notes.empty()
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        x = torch.from_numpy(np.stack([events.pitch, events.velocity], 1).astype(np.int64)).to(self.device)
        classes, velocity = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.long)
        # Patterns are independent (nothing carried), so the full ones go through as one batch.
        full = n // T * T
        for lo, hi in ((0, full), (full, n)):
            if hi == lo:
                continue
            chunk = x[lo:hi].reshape(-1, min(T, hi - lo), 2)  # (P, T, 2)
            c, v = self.model.generate(one_hot_inputs(chunk[..., 0], chunk[..., 1]),
                                       self.temperature, generator)
            classes[lo:hi], velocity[lo:hi] = c.reshape(-1).cpu(), v.reshape(-1).cpu()
        return _drum_notes(events.start, classes.numpy(), velocity.numpy())


def _drum_notes(start: np.ndarray, classes: np.ndarray, velocity: np.ndarray) -> Notes:
    """One drum note per voice per onset cluster (the loudest), at the cluster's onset."""
    cluster, onsets = onset_clusters(start)
    loudest: dict[tuple[int, int], int] = {}
    for k, c, v in zip(cluster, classes, velocity, strict=True):
        if c != REST:
            key = (int(k), int(c))
            loudest[key] = max(loudest.get(key, 1), int(v))
    if not loudest:
        return Notes.empty()
    keys = sorted(loudest)
    t = np.array([onsets[k] for k, _ in keys])
    return Notes.from_lists(
        t, t + HIT_LENGTH, [DRUM_NOTES[c] for _, c in keys], [loudest[key] for key in keys],
        [DRUM_CHANNEL] * len(keys), [0] * len(keys),
    )
