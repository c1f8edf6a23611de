"""`livedrum train` end to end on a few real files: dataset, training, resume, export, accompany;
and data-parallel training under torchrun with two CPU processes (gloo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from livedrum.checkpoint import read_checkpoint
from livedrum.cli import main
from livedrum.midifile import load_song

from .conftest import write_band_song

TINY = ["--epochs", "2", "--streams", "4", "--chunk-beats", "8", "--enc-hidden", "16", "--dec-hidden", "16",
        "--calibrate-songs", "3", "--workers", "1"]


def _corpus(tmp_path: Path, n: int = 12) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    for i in range(n):
        write_band_song(d / f"song{i:02d}.mid", bars=8, seed=i)
    (d / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    return d


def test_train_then_accompany(tmp_path, capsys) -> None:  # noqa: ANN001
    corpus = _corpus(tmp_path)
    out = tmp_path / "run"
    args = ["train", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(out), *TINY]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "skipped 1" in printed.out + printed.err  # the broken file, with a reason
    ckpt = read_checkpoint(out / "model.pt")
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2
    assert {"bias", "complexity", "consistency"} <= set(ckpt["sampling"])
    assert (out / "training.png").stat().st_size > 1000
    # resume: two more epochs continue from the last checkpoint, not from scratch
    args[args.index("--epochs") + 1] = "4"
    assert main([*args, "--resume"]) == 0
    assert [h["epoch"] for h in read_checkpoint(out / "last.pt")["history"]] == [1, 2, 3, 4]
    song = corpus / "song00.mid"
    result = tmp_path / "drums.mid"
    assert main(["accompany", str(song), "-o", str(result), "--model", str(out / "model.pt"),
                 "--complexity", "0.9"]) == 0
    assert len(load_song(result).band) == len(load_song(song).band)


def test_data_parallel_under_torchrun(tmp_path) -> None:  # noqa: ANN001
    corpus = _corpus(tmp_path, n=8)
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
           "-m", "livedrum", "train", str(corpus), "--cache", str(tmp_path / "cache"), "--out", str(out),
           *TINY, "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = read_checkpoint(out / "model.pt")
    assert ckpt["epoch"] == 2
