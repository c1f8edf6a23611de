"""Train the beat network (`livedrum.audio.beatnet`) on training songs rendered without their drums.

Each song is rendered through the SoundFont (cached), analysed as `accompany` analyses a file, and
labelled with the MIDI's true beats and bar lines (within the band's span; the rest of the file is
left out of the loss). Random crops of songs train the network; whole songs held out choose the
epoch. The analysis of each song is cached beside its rendering, so a second run starts at once.

    python -m livedrum.audio.beatnet_train --songs 800 --epochs 60 --out models/livedrum-beats.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from livedrum.audio.beatnet import BeatNet, BeatNetConfig, analysis_features, frame_time, save_beatnet
from livedrum.audio.rendered import band_beats, pick_songs, render_band
from livedrum.audio.source import analyse_file
from livedrum.grid import bar_positions
from livedrum.song import Song

LABEL_MARGIN_S = 0.5  # the loss covers the band's span and this much either side
CROP = 4096  # frames per training crop (47 s)
STRETCH = (0.8, 1.25)  # training crops play this much slower or faster (see `stretched`)


@dataclass
class SongFrames:
    """One rendered song for training: network input, targets (beat, downbeat; 0.5 beside a beat), loss mask."""

    label: str
    x: np.ndarray  # (frames, N_INPUTS)
    y: np.ndarray  # (frames, 2)
    mask: np.ndarray  # (frames,)


def mark(y: np.ndarray, column: int, frames: np.ndarray) -> None:
    """Targets of beats at `frames` in one column of `y`: 1 there, 0.5 beside (timing noise); frames
    outside `y` are left out."""
    for shift, weight in ((0, 1.0), (-1, 0.5), (1, 0.5)):
        at = frames + shift
        at = at[(at >= 0) & (at < len(y))]
        y[at, column] = np.maximum(y[at, column], weight)


def labels(song: Song, n_frames: int, start: float, frame_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Targets and mask for a song's frames: its true beats from the first to the last band note."""
    whole = band_beats(song)
    _, beat_in_bar, _ = bar_positions(int(whole[-1]) + 1, song.time_signatures)
    down = np.asarray(beat_in_bar)[whole] == 0
    j = np.rint((np.asarray(song.seconds_at(whole.astype(np.float64))) - start) / frame_s).astype(np.int64)
    y = np.zeros((n_frames, 2), np.float32)
    mark(y, 0, j)
    mark(y, 1, j[down])
    mask = np.zeros(n_frames, np.float32)
    margin = int(LABEL_MARGIN_S / frame_s)
    mask[max(0, j[0] - margin): max(0, min(n_frames, j[-1] + margin))] = 1.0
    return y, mask


def song_frames(label: str, blob: bytes, song: Song, cache: Path) -> SongFrames | None:
    """Render (cached), analyse (cached) and label one song; None when it cannot be used."""
    wav = render_band(blob, cache)
    saved = wav.with_suffix(".beats.npz")
    if saved.is_file():
        z = np.load(saved)
        return SongFrames(label, z["x"], z["y"], z["mask"])
    analyzer = analyse_file(wav)
    x = analysis_features(analyzer)
    start, frame_s = frame_time(analyzer.t0, analyzer.hop_s)
    y, mask = labels(song, len(x), start, frame_s)
    if not mask.any():
        return None
    np.savez_compressed(saved, x=x, y=y, mask=mask)
    return SongFrames(label, x, y, mask)


def _one(args: tuple[str, bytes, Song, Path]) -> SongFrames | str | None:
    try:
        return song_frames(*args)
    except (ValueError, OSError, EOFError) as exc:
        return f"skipped {args[0]}: {exc}"


def collect(n: int, cache: Path, data: str | None = None, workers: int = 1, split: str = "train") -> list[SongFrames]:
    """The labelled frames of `n` rendered songs of a split, in `workers` processes."""
    jobs = [(label, blob, song, cache) for label, blob, song in pick_songs(n, data, split)]
    out = []
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for item in tqdm(pool.map(_one, jobs, chunksize=4), total=len(jobs), desc="songs", unit="song"):
            if isinstance(item, str):
                tqdm.write(item, file=sys.stderr)
            elif item is not None:
                out.append(item)
    return out


def stretched(song: SongFrames, factor: float) -> SongFrames:
    """The song played `factor` times as fast, on the features: frames resampled, the beats moved
    with them (and widened again). Rendered songs sit at few tempos; this teaches the others."""
    n = max(2, int(round(len(song.x) / factor)))
    src = np.minimum(np.arange(n) * factor, len(song.x) - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, len(song.x) - 1)
    w = (src - lo)[:, None].astype(np.float32)
    x = (1 - w) * song.x[lo] + w * song.x[hi]
    y = np.zeros((n, 2), np.float32)
    for column in (0, 1):
        mark(y, column, np.rint(np.flatnonzero(song.y[:, column] == 1.0) / factor).astype(np.int64))
    mask = song.mask[np.rint(src).astype(np.int64)]
    return SongFrames(song.label, x.astype(np.float32), y, mask)


def crops(songs: list[SongFrames], batch: int, rng: np.random.Generator,
          stretch: tuple[float, float] = STRETCH) -> tuple[torch.Tensor, ...]:
    """A batch of random CROP-frame crops (zero-padded, masked), songs drawn alike, each played at a
    random speed within `stretch` (log-uniform)."""
    xs, ys, ms = [], [], []
    for i in rng.integers(len(songs), size=batch):
        factor = float(np.exp(rng.uniform(np.log(stretch[0]), np.log(stretch[1]))))
        s = songs[i]
        span = int(np.ceil(CROP * factor)) + 2  # the source frames one stretched crop needs
        lo = int(rng.integers(len(s.x) - span)) if len(s.x) > span else 0
        part = SongFrames(s.label, s.x[lo:lo + span], s.y[lo:lo + span], s.mask[lo:lo + span])
        if factor != 1.0:
            part = stretched(part, factor)
        pad = max(0, CROP - len(part.x))
        xs.append(np.pad(part.x[:CROP], ((0, pad), (0, 0))))
        ys.append(np.pad(part.y[:CROP], ((0, pad), (0, 0))))
        ms.append(np.pad(part.mask[:CROP], (0, pad)))
    return tuple(torch.from_numpy(np.stack(a)) for a in (xs, ys, ms))


def masked_loss(model: BeatNet, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of beat and downbeat, summed over both, averaged over the masked frames."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y, reduction="none").sum(2)
    return (bce * mask).sum() / mask.sum().clamp(min=1.0)


@torch.no_grad()
def held_out_loss(model: BeatNet, songs: list[SongFrames]) -> float:
    model.eval()
    total = sum(float(masked_loss(model, *(torch.from_numpy(a)[None] for a in (s.x, s.y, s.mask)))) * s.mask.sum()
                for s in songs)
    model.train()
    return float(total) / max(1.0, sum(float(s.mask.sum()) for s in songs))


def train_beatnet(songs: list[SongFrames], epochs: int = 60, steps: int = 40, batch: int = 8, lr: float = 2e-3,
                  held_out: float = 0.1, seed: int = 0, config: BeatNetConfig | None = None,
                  stretch: tuple[float, float] = STRETCH) -> tuple[BeatNet, dict]:
    """A beat network trained on crops of `songs`, the epoch with the lowest loss on held-out songs."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(songs))
    n_val = max(1, int(round(len(songs) * held_out)))
    val, train = [songs[i] for i in order[:n_val]], [songs[i] for i in order[n_val:]]
    model = BeatNet(config or BeatNetConfig())
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)
    best, best_state, history = float("inf"), None, []
    for epoch in range(epochs):
        t = time.time()
        running = 0.0
        for _ in range(steps):
            loss = masked_loss(model, *crops(train, batch, rng, stretch))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            running += float(loss.detach())
        val_loss = held_out_loss(model, val)
        plateau.step(val_loss)
        history.append({"epoch": epoch, "train": running / steps, "held_out": val_loss})
        tqdm.write(f"epoch {epoch}: train {running / steps:.4f}, held out {val_loss:.4f} ({time.time() - t:.0f} s)")
        if val_loss < best:
            best, best_state = val_loss, {k: v.clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), {"songs": len(train), "held_out_songs": n_val, "held_out_loss": best, "history": history}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m livedrum.audio.beatnet_train", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the beat network file to write")
    p.add_argument("--songs", type=int, default=800, help="rendered training songs")
    p.add_argument("--cache", default="cache/audio-train", help="rendered audio folder")
    p.add_argument("--data", help="data root (default: $LIVEDRUM_DATA or ../shared/data)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--workers", type=int, default=2, help="processes that render and analyse songs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    songs = collect(args.songs, Path(args.cache), args.data, args.workers)
    if len(songs) < 2:
        print(f"error: only {len(songs)} usable songs", file=sys.stderr)
        return 1
    model, figures = train_beatnet(songs, args.epochs, seed=args.seed)
    save_beatnet(model, Path(args.out), {k: v for k, v in figures.items() if k != "history"})
    print(f"wrote {args.out}: {figures['songs']} songs, held-out loss {figures['held_out_loss']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
