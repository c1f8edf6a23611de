"""Per-window inference cost: our streaming drummer against the thesis-size network.

    python benchmarks/inference.py [--windows 2000] [--model models/livedrum-default.pt]

One CPU thread (and CUDA, eager, when a GPU is there), batch 1, host-to-device and back included.
Prints p50/p99/max in milliseconds and the ratio to the thesis-size network.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from livedrum.checkpoint import load_model
from livedrum.engine import Engine
from livedrum.features import BAND_FEATURES, POSITION_FEATURES, positions_for
from livedrum.grid import STEPS_PER_BEAT, TimeSignature
from livedrum.model import DrumNet, ModelConfig
from livedrum.sampler import Sampling
from livedrum.thesis_model import IN_FEATURES, ThesisConfig, ThesisNet

REPO = Path(__file__).resolve().parent.parent


def time_drumnet(net: DrumNet, device: str, windows: int, groove: str = "band") -> np.ndarray:
    """groove "band": the selector picks each 4/4 bar's groove at its first beat (one window in four)."""
    rng = np.random.default_rng(0)
    engine = Engine(net, Sampling(complexity=0.6, groove=groove if net.selector is not None else "rock"),
                    seed=0, device=device)
    band = (rng.random((windows + 50, STEPS_PER_BEAT, BAND_FEATURES)) < 0.2).astype(np.float32)
    positions, _, _ = positions_for(windows + 51, [TimeSignature(0.0)])
    pos = positions.reshape(-1, STEPS_PER_BEAT, POSITION_FEATURES)
    out = []
    for i in range(windows + 50):
        t0 = time.perf_counter()
        engine.hear(band[i], pos[i], 120.0)
        engine.play(pos[i + 1], 4)  # returns numpy: includes the device round trip
        if device == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return np.asarray(out[50:]) * 1e3


def time_thesis(device: str, windows: int) -> np.ndarray:
    net = ThesisNet(ThesisConfig(hidden=512)).to(device).eval()
    g = torch.Generator(device=device).manual_seed(0)
    out = []
    for _ in range(windows + 50):
        x = torch.zeros(1, 20, IN_FEATURES)
        x[0, :, 60] = 1
        t0 = time.perf_counter()
        c, v = net.generate(x.to(device), 1.0, g)  # 20 events in, 20 drum events out
        c.cpu(), v.cpu()
        out.append(time.perf_counter() - t0)
    return np.asarray(out[50:]) * 1e3


def row(name: str, ms: np.ndarray, ref: np.ndarray | None) -> str:
    p50, p99 = np.percentile(ms, [50, 99])
    ratio = f"{np.median(ref) / p50:6.1f}x" if ref is not None else "   -  "
    return f"{name:46s} {p50:8.3f} {p99:8.3f} {ms.max():8.3f}  {ratio}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--model", default=str(REPO / "models" / "livedrum-default.pt"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    ours = load_model(args.model)[0] if Path(args.model).exists() else DrumNet(ModelConfig())
    big = DrumNet(ModelConfig(enc_hidden=512, dec_hidden=512)).eval()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{'per beat window (ms)':46s} {'p50':>8s} {'p99':>8s} {'max':>8s}  vs thesis")
    for device in devices:
        label = "1 CPU thread" if device == "cpu" else f"CUDA eager ({torch.cuda.get_device_name()})"
        thesis = time_thesis(device, args.windows)
        print(row(f"thesis net 512, 20 in/out [{label}]", thesis, None))
        name = f"livedrum {ours.cfg.enc_hidden}/{ours.cfg.dec_hidden}, 12 steps"
        print(row(f"{name} [{label}]", time_drumnet(ours.to(device), device, args.windows), thesis))
        if ours.selector is not None:  # what the groove selector costs: the same without it
            print(row(f"{name}, no selector [{label}]",
                      time_drumnet(ours, device, args.windows, groove="rock"), thesis))
        print(row(f"livedrum at 512/512, 12 steps [{label}]",
                  time_drumnet(big.to(device), device, args.windows), thesis))


if __name__ == "__main__":
    main()
