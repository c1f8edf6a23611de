"""What the musician sees: the status line and the bar grid."""

from __future__ import annotations

import numpy as np

from livedrum.grid import STEPS_PER_BEAT
from livedrum.live.drummer import Status
from livedrum.live.view import BarGrid, status_line
from livedrum.vocab import N_VOICES, VOICE_OF_NOTE


def test_status_line_says_tempo_position_and_counts() -> None:
    s = Status(state="playing", mode="follow", bpm=112.0, bar=12, beat=3, complexity=0.25, notes=345, late=2,
               dropped_input=0, songs=1)
    line = status_line(s, preset="rock")
    for part in ("112.0 BPM", "bar 12:3", "follow", "preset rock", "complexity 0.25", "notes 345", "late 2"):
        assert part in line
    waiting = status_line(Status("waiting", "follow", 120.0, 0, 0, 0.5, 0, 0, 0, 0))
    assert "waiting for the band" in waiting


def test_bar_grid_shows_each_piece_where_it_plays() -> None:
    grid = BarGrid(beats_per_bar=4)
    hits = np.zeros((STEPS_PER_BEAT, N_VOICES), bool)
    hits[0, VOICE_OF_NOTE[36]] = True
    hits[6, VOICE_OF_NOTE[42]] = True
    grid.add(4, hits)  # the first beat of bar 2
    grid.add(5, np.zeros_like(hits))
    lines = {line.split()[0]: line for line in grid.lines()}
    kick, hat = lines["kick"], lines["hihat"]
    cells = kick[kick.index("|"):]
    assert cells.count("x") == 1 and cells.index("x") == 1  # right after the first bar line
    assert hat[hat.index("|"):].index("x") == 7
    assert "x" not in lines["snare"]
