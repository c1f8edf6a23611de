"""Humanize like real drummers: micro-timing and accents measured on the Groove MIDI Dataset.

Most of the training corpus is sequenced MIDI that sits on the grid, so the model learns almost no
micro-timing (its offsets are about 0.5 ms). Professional drummers play ahead of or behind the
beat per kit piece and per position in the beat, with deviations that drift from hit to hit
rather than jump (a first-order autoregressive process fits them), and they accent by position.
These statistics are built once from the GMD (`python -m livedrum.humanize GROOVE_DIR`), shipped
as `livedrum/data/humanize-gmd.json`, and applied by the engine, seeded and streaming, scaled by
the humanize knob (0 = on the grid, 1 = as the GMD drummers play).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from livedrum.grid import STEPS_PER_BEAT
from livedrum.vocab import DRUM_NOTES, KIT_PIECES, PIECE_NAMES, voice_of

STATS_PATH = Path(__file__).parent / "data" / "humanize-gmd.json"
SIXTEENTHS = 4  # positions in the beat the statistics are kept for
STEPS_PER_SIXTEENTH = STEPS_PER_BEAT // SIXTEENTHS
MAX_DEVIATION = 1.25  # steps: further from a sixteenth than this is a different note value, not feel
EARLIEST_FIRST_STEP = -0.3  # steps: a window's first hits are decided half a step ahead; keep margin
SWUNG_STYLES = ("jazz", "blues", "shuffle", "swing", "neworleans", "gospel")  # their offbeats are swing
MIN_HITS = 30  # fewer at a (piece, position): use the piece's overall figures

PIECE_OF_VOICE = np.array([next(i for i, p in enumerate(PIECE_NAMES) if n in KIT_PIECES[p]) for n in DRUM_NOTES])


@dataclass(frozen=True)
class GrooveStats:
    """Per kit piece (rows, PIECE_NAMES order) and sixteenth position in the beat (columns)."""

    timing_mean: np.ndarray  # (P, 4) steps, + = behind the beat
    timing_std: np.ndarray  # (P, 4) steps
    timing_rho: np.ndarray  # (P,) lag-1 correlation of a piece's successive deviations
    accent: np.ndarray  # (P, 4) mean velocity at the position / the piece's mean velocity
    velocity_spread: np.ndarray  # (P,) relative spread of velocities around their accent
    files: int = 0
    hits: int = 0

    def to_json(self) -> dict:
        return {
            "source": "Groove MIDI Dataset v1.0.0 (Gillick et al. 2019, CC BY 4.0), train split, straight styles",
            "pieces": list(PIECE_NAMES), "files": self.files, "hits": self.hits,
            "timing_mean_steps": np.round(self.timing_mean, 4).tolist(),
            "timing_std_steps": np.round(self.timing_std, 4).tolist(),
            "timing_rho": np.round(self.timing_rho, 4).tolist(),
            "accent": np.round(self.accent, 4).tolist(),
            "velocity_spread": np.round(self.velocity_spread, 4).tolist(),
        }

    @classmethod
    def from_json(cls, d: dict) -> GrooveStats:
        if d.get("pieces") != list(PIECE_NAMES):
            raise ValueError(f"humanize statistics are for kit pieces {d.get('pieces')}, not {list(PIECE_NAMES)}")
        a = {k: np.asarray(d[k], dtype=np.float64) for k in
             ("timing_mean_steps", "timing_std_steps", "timing_rho", "accent", "velocity_spread")}
        return cls(a["timing_mean_steps"], a["timing_std_steps"], a["timing_rho"], a["accent"],
                   a["velocity_spread"], int(d.get("files", 0)), int(d.get("hits", 0)))


@cache
def shipped_stats() -> GrooveStats:
    return GrooveStats.from_json(json.loads(STATS_PATH.read_text()))


class Humanizer:
    """One performance's feel: its own seeded random stream and each piece's drifting deviation."""

    def __init__(self, seed: int, stats: GrooveStats | None = None) -> None:
        self.stats = stats or shipped_stats()
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self.rng = np.random.default_rng([self.seed, 0x6D])
        self.drift = np.zeros(len(PIECE_NAMES))

    def apply(self, hits: np.ndarray, velocity: np.ndarray, offset: np.ndarray,
              amount: float) -> tuple[np.ndarray, np.ndarray]:
        """(S, V) hits, velocities 0..1 and offsets in steps -> humanized velocities and offsets.
        Draws random numbers only for hits, in time order, so a window's feel depends only on the
        hits so far: window by window equals one pass."""
        if amount <= 0.0 or not hits.any():
            return velocity, offset
        st = self.stats
        velocity, offset = velocity.copy(), offset.copy()
        for step, voice in zip(*np.nonzero(hits)):
            piece = PIECE_OF_VOICE[voice]
            pos = int(round(step / STEPS_PER_SIXTEENTH)) % SIXTEENTHS
            rho = st.timing_rho[piece]
            z_time, z_vel = self.rng.standard_normal(2)
            self.drift[piece] = rho * self.drift[piece] + np.sqrt(1.0 - rho * rho) * z_time
            deviation = st.timing_mean[piece, pos] + st.timing_std[piece, pos] * self.drift[piece]
            low = EARLIEST_FIRST_STEP if step == 0 else -0.5
            offset[step, voice] = np.clip(offset[step, voice] + amount * deviation, low, 0.5)
            gain = (1.0 + amount * (st.accent[piece, pos] - 1.0)) * (1.0 + amount * st.velocity_spread[piece] * z_vel)
            velocity[step, voice] = np.clip(velocity[step, voice] * gain, 1.0 / 127.0, 1.0)
        return velocity, offset


# ---- building the statistics from the GMD ---------------------------------------------------


def gmd_files(root: Path, split: str = "train") -> list[Path]:
    """The GMD's straight-feel 4/4 grooves of one split (swung styles would read their swing as feel)."""
    with open(root / "info.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [root / r["midi_filename"] for r in rows
            if r["split"] == split and r["time_signature"] == "4-4"
            and not any(s in r["style"] for s in SWUNG_STYLES)]


def build(files: list[Path]) -> GrooveStats:
    """Deviations from the nearest sixteenth, per piece and position; drift and accents."""
    from livedrum.midifile import load_song

    P = len(PIECE_NAMES)
    dev: list[list[list[float]]] = [[[] for _ in range(SIXTEENTHS)] for _ in range(P)]
    vel: list[list[list[float]]] = [[[] for _ in range(SIXTEENTHS)] for _ in range(P)]
    pairs: list[list[tuple[float, float]]] = [[] for _ in range(P)]
    used = hits = 0
    for path in files:
        try:
            drums = load_song(path).drums
        except ValueError:
            continue
        used += 1
        last: dict[int, tuple[int, float]] = {}
        for start, pitch, v in zip(drums.start, drums.pitch, drums.velocity):
            voice = voice_of(int(pitch))
            if voice is None:
                continue
            sixteenth = round(start * SIXTEENTHS)
            d = (start - sixteenth / SIXTEENTHS) * STEPS_PER_BEAT
            if abs(d) > MAX_DEVIATION:
                continue
            piece, pos = PIECE_OF_VOICE[voice], sixteenth % SIXTEENTHS
            dev[piece][pos].append(d)
            vel[piece][pos].append(float(v))
            hits += 1
            if piece in last and last[piece][0] != sixteenth:
                pairs[piece].append((last[piece][1], d))
            last[piece] = (sixteenth, d)
    # robust figures (median, MAD): flams, drags and 32nds near a sixteenth are not its feel. The
    # whole kit's median is taken out: a recording's latency or a player's habit of rushing the
    # click is no feel a band can use; what one piece plays against another is kept.
    kit = np.concatenate([np.asarray(x) for row in dev for x in row if x])
    centre = float(np.median(kit))
    mean, std = np.zeros((P, SIXTEENTHS)), np.zeros((P, SIXTEENTHS))
    accent, spread, rho = np.ones((P, SIXTEENTHS)), np.zeros(P), np.zeros(P)
    for p in range(P):
        every = np.concatenate([np.asarray(x) for x in dev[p]]) if any(dev[p]) else kit
        every = every if len(every) >= MIN_HITS else kit  # a piece hardly played: the whole kit's feel
        vels = np.concatenate([np.asarray(x) for x in vel[p]]) if any(vel[p]) else np.ones(1)
        for k in range(SIXTEENTHS):
            here = np.asarray(dev[p][k]) if len(dev[p][k]) >= MIN_HITS else every
            mean[p, k] = np.median(here) - centre
            std[p, k] = 1.4826 * np.median(np.abs(here - np.median(here)))
            if len(vel[p][k]) >= MIN_HITS:
                accent[p, k] = np.mean(vel[p][k]) / vels.mean()
        relative = np.concatenate([np.asarray(vel[p][k]) / (accent[p, k] * vels.mean())
                                   for k in range(SIXTEENTHS) if vel[p][k]]) if any(vel[p]) else np.ones(1)
        spread[p] = relative.std()
        if len(pairs[p]) >= MIN_HITS:
            a, b = np.asarray(pairs[p]).T
            near = (np.abs(a - centre) < 2 * std[p].mean()) & (np.abs(b - centre) < 2 * std[p].mean())
            rho[p] = np.clip(np.corrcoef(a[near], b[near])[0, 1], 0.0, 0.95)
    return GrooveStats(mean, std, rho, accent, spread, used, hits)


def describe(st: GrooveStats, bpm: float = 120.0) -> str:
    ms = 60_000.0 / bpm / STEPS_PER_BEAT
    lines = [f"{st.files} GMD files, {st.hits} hits; timing in ms at {bpm:g} BPM (+ = behind), per sixteenth"]
    for p, name in enumerate(PIECE_NAMES):
        mean = " ".join(f"{m * ms:+5.1f}" for m in st.timing_mean[p])
        std = " ".join(f"{s * ms:4.1f}" for s in st.timing_std[p])
        acc = " ".join(f"{a:4.2f}" for a in st.accent[p])
        lines.append(f"{name:<10} mean {mean}  std {std}  drift rho {st.timing_rho[p]:.2f}  accent {acc}  "
                     f"velocity spread {st.velocity_spread[p]:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m livedrum.humanize", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("groove", type=Path, nargs="?", default=Path("../shared/data/groove"),
                    help="the Groove MIDI Dataset folder (with info.csv)")
    ap.add_argument("-o", "--out", type=Path, default=STATS_PATH)
    args = ap.parse_args(argv)
    if not (args.groove / "info.csv").is_file():
        print(f"error: {args.groove} is not the Groove MIDI Dataset (no info.csv)", file=sys.stderr)
        return 2
    st = build(gmd_files(args.groove))
    args.out.write_text(json.dumps(st.to_json(), indent=1) + "\n")
    print(describe(st))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

