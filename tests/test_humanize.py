"""Humanize: the GMD drummers' micro-timing and accents, seeded, drifting, scaled by the knob."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livedrum.grid import STEPS_PER_BEAT
from livedrum.humanize import (
    EARLIEST_FIRST_STEP,
    PIECE_OF_VOICE,
    Humanizer,
    build,
    gmd_files,
    shipped_stats,
)
from livedrum.vocab import PIECE_NAMES, VOICE_OF_NOTE

GROOVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "groove"
HAT, KICK, SNARE = VOICE_OF_NOTE[42], VOICE_OF_NOTE[36], VOICE_OF_NOTE[38]
S, V = STEPS_PER_BEAT, len(PIECE_OF_VOICE)


def sixteenth_hats(beats: int, seed: int = 0, amount: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Hats on every sixteenth for `beats` windows: (beats, 4) offsets and velocities."""
    h = Humanizer(seed)
    hits = np.zeros((S, V), bool)
    hits[::3, HAT] = True
    offs, vels = [], []
    for _ in range(beats):
        vel, off = h.apply(hits, np.where(hits, 0.6, 0.0), np.zeros((S, V)), amount)
        offs.append(off[::3, HAT])
        vels.append(vel[::3, HAT])
    return np.array(offs), np.array(vels)


def test_shipped_statistics_are_a_drummers() -> None:
    st = shipped_stats()
    assert st.timing_mean.shape == st.timing_std.shape == st.accent.shape == (len(PIECE_NAMES), 4)
    ms = 500.0 / STEPS_PER_BEAT  # one step at 120 BPM
    assert np.all((st.timing_std * ms > 5) & (st.timing_std * ms < 40))  # looser than a sequencer, tighter than chaos
    assert np.all(np.abs(st.timing_mean * ms) < 25)
    assert np.all((st.timing_rho >= 0) & (st.timing_rho < 1))
    hat = PIECE_NAMES.index("hihat")
    assert st.accent[hat, 0] > st.accent[hat, 1] and st.accent[hat, 2] > st.accent[hat, 3]  # on the beat louder
    assert st.files > 100 and st.hits > 10_000


def test_humanize_zero_is_the_grid() -> None:
    offs, vels = sixteenth_hats(8, amount=0.0)
    assert not offs.any() and np.all(vels == 0.6)


def test_feel_follows_the_statistics() -> None:
    st = shipped_stats()
    hat = PIECE_NAMES.index("hihat")
    offs, vels = sixteenth_hats(600)
    assert 0.5 * st.timing_std[hat].mean() < offs.std() <= st.timing_std[hat].mean() * 1.05  # (clipped at 1/2 step)
    assert vels[:, 0].mean() > vels[:, 1].mean() * 1.2  # the GMD's accent on the beat
    assert offs[:, 0].min() >= EARLIEST_FIRST_STEP - 1e-9  # a window's first step is never too early to send
    series = offs.reshape(-1)
    lag1 = np.corrcoef(series[:-1], series[1:])[0, 1]
    shuffled = np.random.default_rng(0).permutation(series)
    assert lag1 > 0.2 and lag1 > np.corrcoef(shuffled[:-1], shuffled[1:])[0, 1] + 0.15  # drifts, not white noise


def test_half_humanize_is_half_as_loose() -> None:
    full, _ = sixteenth_hats(400, amount=1.0)
    half, _ = sixteenth_hats(400, amount=0.5)
    assert 0.4 < half.std() / full.std() < 0.75  # (full is clipped at half a step: less than 2x)


def test_same_seed_same_feel_other_seed_other_feel() -> None:
    a, va = sixteenth_hats(16, seed=3)
    b, vb = sixteenth_hats(16, seed=3)
    c, _ = sixteenth_hats(16, seed=4)
    assert np.array_equal(a, b) and np.array_equal(va, vb) and not np.array_equal(a, c)


def test_engine_plays_with_feel(tmp_path: Path, band_song: Path) -> None:
    """Offline, through the command: humanize 0 on the grid, 0.5 off it by milliseconds, not beats."""
    import mido

    from livedrum.cli import main

    spreads = {}
    for h in ("0", "0.5"):
        out = tmp_path / f"h{h}.mid"
        assert main(["accompany", str(band_song), "-o", str(out), "--humanize", h]) == 0
        mid = mido.MidiFile(out)
        t, steps = 0, []
        for msg in mido.merge_tracks(mid.tracks):
            t += msg.time
            if msg.type == "note_on" and msg.velocity and msg.channel == 9:
                steps.append(t / mid.ticks_per_beat * STEPS_PER_BEAT)
        d = np.array(steps) - np.rint(steps)
        spreads[h] = np.abs(d).mean()
    assert spreads["0"] < 0.02
    assert 0.1 < spreads["0.5"] < 0.5


@pytest.mark.skipif(not (GROOVE / "info.csv").is_file(), reason="the Groove MIDI Dataset is not in ../shared/data")
def test_build_from_the_gmd() -> None:
    files = gmd_files(GROOVE)
    assert files and all("jazz" not in f.name for f in files)
    st = build(files[:40])
    assert st.files == 40 and np.isfinite(st.timing_std).all() and (st.timing_std > 0).all()
