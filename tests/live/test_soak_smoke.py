"""The soak benchmark keeps working: a few minutes of show on a virtual clock meet every goal."""

from __future__ import annotations

import gc
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def test_a_short_virtual_show_meets_the_soak_goals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    soak = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "soak", soak)  # its dataclasses look their module up there
    spec.loader.exec_module(soak)
    threads = torch.get_num_threads()
    try:  # short songs, so that four minutes hold several starts and stops of follow mode
        r = soak.virtual_soak(hours=4 / 60, song_seconds=(40.0, 70.0), bars=(8, 16), progress=False, keep=tmp_path)
    finally:  # the daemon's engine set-up is for a process of its own
        torch.set_num_threads(threads)
        gc.unfreeze()
    assert r["songs"] >= 3 and r["starts"] >= 3 and r["windows"] > 300 and r["notes"] > 0
    failed = [(name, value) for name, value, _, ok in r["goals"] if ok is False]
    assert not failed
