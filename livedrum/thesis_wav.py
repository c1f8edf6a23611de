"""The comparison baseline behind `--model thesis-wav`: the seed thesis' WAV network, trained and played.

Per audio onset, the 1-second window around it as a 3-channel image (Mel dB, MFCC, tempogram;
`thesis_wav_data`), a small ResNet and an LSTM encoder over patterns of 20 onsets, the thesis
MIDI network's decoder writing 20 drum events (22 voices + rest, velocity; `thesis_wav_model`).
Training: Adam, teacher forcing, cross-entropy on both heads, validation loss each epoch, early
stopping. Generation: patterns of 20 onsets in order, nothing carried from one to the next;
each sampled hit is a drum note at its onset (one per onset), temperature sampling, seeded.

The reference model was trained on CPU, one thread, with (from the repository root):

    mkdir -p runs/thesis-wav && nohup nice livedrum train --model thesis-wav --out runs/thesis-wav \
        --threads 1 --epochs 12 --wav-songs 160 --wav-seconds 60 --val-songs 16 > runs/thesis-wav/train.log 2>&1 &

(the first 60 s of 160 training songs and 16 validation songs, rendered through the SoundFont
without drums into cache/audio-train; checkpoints runs/thesis-wav/best.pt and last.pt). About 37 minutes
on a shared 2-core machine: 7 rendering, 4 features, 12 epochs of 110 s; validation loss 5.86 after
epoch 1, 4.77 after epoch 12 (still falling). `benchmarks/audio_eval.py --thesis-wav PATH` scores it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from livedrum.song import Notes
from livedrum.thesis_model import REST, shift_right, thesis_loss
from livedrum.thesis_wav_data import (
    WavSong,
    feature_image,
    load_mono,
    onset_columns,
    onset_times,
    pad_image,
    prepare_song,
    windows,
)
from livedrum.thesis_wav_model import ThesisWavConfig, ThesisWavNet
from livedrum.vocab import DRUM_NOTES

__all__ = ["ThesisWavConfig", "ThesisWavNet", "ThesisWavDrummer", "train_thesis_wav", "load_checkpoint"]

KIND = "thesis-wav"
DRUM_CHANNEL = 9
HIT_SECONDS = 0.05  # drum notes are hits


def patterns(songs: list[WavSong], config: ThesisWavConfig) -> np.ndarray:
    """(P, 2) (song, first onset) of every pattern; a song's tail shorter than a pattern is left out."""
    rows = [(i, s) for i, song in enumerate(songs)
            for s in range(0, len(song.columns) - config.pattern + 1, config.stride)]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def batch_of(songs: list[WavSong], rows: np.ndarray, config: ThesisWavConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Patterns -> (B, T, 3, bins, frames) windows and (B, T, 2) targets."""
    T = config.pattern
    x = np.stack([windows(songs[i].padded, songs[i].columns[s : s + T], config) for i, s in rows])
    y = np.stack([songs[i].targets[s : s + T] for i, s in rows])
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


def _batch_loss(model: ThesisWavNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    note_logits, vel_logits = model(x, shift_right(y))  # (B, T, 23), (B, T, 128)
    return thesis_loss(note_logits, vel_logits, y)


@torch.no_grad()
def _evaluate(model: ThesisWavNet, songs: list[WavSong], rows: np.ndarray, config: ThesisWavConfig) -> float:
    model.eval()
    total = 0.0
    for i in range(0, len(rows), config.batch):
        x, y = batch_of(songs, rows[i : i + config.batch], config)
        total += _batch_loss(model, x, y).item() * len(x)
    model.train()
    return total / max(len(rows), 1)


def train_thesis_wav(train: list, val: list, config: ThesisWavConfig, out: Path, progress: bool = True) -> dict:
    """Train on rendered songs (`audio.rendered.AudioSong`: audio and its MIDI); write `out/last.pt`
    every epoch and `out/best.pt` (lowest validation loss), `out/history.json`.

    Returns {"best": path, "best_epoch", "best_val_loss", "history": [{epoch, train_loss, val_loss}]}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    t0 = time.time()
    songs, val_songs = [prepare_song(s, config) for s in train], [prepare_song(s, config) for s in val]
    rows, val_rows = patterns(songs, config), patterns(val_songs, config)
    if len(rows) == 0:
        raise ValueError(f"no training patterns: the songs have fewer than {config.pattern} onsets")
    if progress:
        hits = np.mean([np.mean(s.targets[:, 0] != REST) for s in songs if len(s.targets)])
        print(f"thesis-wav: {len(rows)} training, {len(val_rows)} validation patterns of {config.pattern} onsets "
              f"from {len(songs)} + {len(val_songs)} songs ({hits:.0%} of onsets with a drum hit; features "
              f"{time.time() - t0:.0f} s)", flush=True)
    model = ThesisWavNet(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[dict] = []
    best_val, best_epoch, stale = math.inf, 0, 0
    for epoch in range(1, config.epochs + 1):
        t0 = time.time()
        order = rows[rng.permutation(len(rows))]
        starts = list(range(0, len(order), config.batch))
        if config.max_batches:
            starts = starts[: config.max_batches]
        total, seen = 0.0, 0
        for i in starts:
            x, y = batch_of(songs, order[i : i + config.batch], config)
            loss = _batch_loss(model, x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            seen += len(x)
        train_loss = total / max(seen, 1)
        val_loss = _evaluate(model, val_songs, val_rows, config) if len(val_rows) else train_loss
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "seconds": round(time.time() - t0, 1)})
        ckpt = {"kind": KIND, "config": config.to_dict(), "model": model.state_dict(),
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


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[ThesisWavNet, dict]:
    """A thesis-wav checkpoint -> (model in eval mode, the checkpoint dict). Loads no pickled code."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise ValueError(f"{path} is not a thesis-wav checkpoint")
    model = ThesisWavNet(ThesisWavConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


class ThesisWavDrummer:
    """Plays drums for a recording: `ThesisWavDrummer.load(path).play(wav) -> Notes` timed in seconds."""

    chunk = 64  # patterns per forward pass: bounds the memory a long recording takes

    def __init__(self, model: ThesisWavNet, device: str = "cpu", temperature: float = 1.0, seed: int = 0):
        self.model = model.to(device).eval()
        self.config = model.config
        self.device = device
        self.temperature = temperature
        self.seed = seed

    @classmethod
    def load(
        cls, path: str | Path, device: str = "cpu", temperature: float = 1.0, seed: int = 0
    ) -> ThesisWavDrummer:
        model, _ = load_checkpoint(path, device)
        return cls(model, device=device, temperature=temperature, seed=seed)

    def play(self, audio: str | Path, onsets: np.ndarray | None = None) -> Notes:
        """One drum event per onset (seconds; found with the model's detector when not given): the hits,
        their start and end in SECONDS. The same recording, onsets and seed give the same notes."""
        config = self.config
        times = onset_times(audio, config.onset_method) if onsets is None else np.sort(np.asarray(onsets, float))
        n, T = len(times), config.pattern
        if n == 0:
            return Notes.empty()
        padded = pad_image(feature_image(load_mono(audio, config.rate), config), config)
        columns = onset_columns(times, config)
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        classes, velocity = np.empty(n, np.int64), np.empty(n, np.int64)
        # Patterns are independent (nothing carried): the full ones go through in batches, then the tail.
        full = n // T * T
        spans = [(lo, min(lo + self.chunk * T, full)) for lo in range(0, full, self.chunk * T)]
        spans += [(full, n)] if n > full else []
        for lo, hi in spans:
            x = torch.from_numpy(windows(padded, columns[lo:hi], config)).to(self.device)  # (N, 3, bins, W)
            x = x.view(-1, min(T, hi - lo), *x.shape[1:])  # (P, T, 3, bins, W)
            c, v = self.model.generate(x, self.temperature, generator)
            classes[lo:hi], velocity[lo:hi] = c.reshape(-1).cpu().numpy(), v.reshape(-1).cpu().numpy()
        hit = classes != REST
        t = times[hit]
        return Notes.from_lists(t, t + HIT_SECONDS, [DRUM_NOTES[c] for c in classes[hit]], velocity[hit].tolist(),
                                [DRUM_CHANNEL] * len(t), [0] * len(t))
