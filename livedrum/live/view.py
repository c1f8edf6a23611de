"""What a musician sees: one status line, and the bar the drummer is playing as a grid.

The status line (tempo, bar:beat, mode, preset, complexity, notes sent, late notes) is readable
at a glance from across a stage; the grid shows each kit piece over the bar's 12 steps per beat.
Drawn with rich on a terminal; `status_line` alone serves logs and plain output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from livedrum.grid import STEPS_PER_BEAT
from livedrum.live.drummer import Drummer, Status
from livedrum.vocab import PIECE_NAMES, piece_voices


def status_line(s: Status, preset: str = "default") -> str:
    where = f"bar {s.bar}:{s.beat}" if s.state == "playing" else "waiting for the band"
    return (f"{s.state:<7} {s.bpm:6.1f} BPM  {where:<20} {s.mode}  preset {preset}  "
            f"complexity {s.complexity:.2f}  notes {s.notes}  late {s.late}")


class BarGrid:
    """The hits of the current bar, window by window, for drawing."""

    def __init__(self, beats_per_bar: int) -> None:
        self.beats_per_bar = beats_per_bar
        self.hits = np.zeros((beats_per_bar * STEPS_PER_BEAT, len(PIECE_NAMES)), dtype=bool)

    def add(self, beat: int, window_hits: np.ndarray) -> None:
        pos = beat % self.beats_per_bar
        if pos == 0:
            self.hits[:] = False
        rows = np.stack([window_hits[:, piece_voices(p)].any(axis=1) for p in PIECE_NAMES], axis=1)
        self.hits[pos * STEPS_PER_BEAT : (pos + 1) * STEPS_PER_BEAT] = rows

    def lines(self) -> list[str]:
        out = []
        for i, name in enumerate(PIECE_NAMES):
            cells = []
            for step in range(len(self.hits)):
                if step % STEPS_PER_BEAT == 0:
                    cells.append("|")
                cells.append("x" if self.hits[step, i] else ("." if step % 3 == 0 else " "))
            out.append(f"{name:>10} {''.join(cells)}|")
        return out


class LiveView:
    """Redraws the status and the bar grid a few times a second (cancel the task to stop)."""

    def __init__(self, drummer: Drummer, preset_of: Callable[[], str] | None = None,
                 console: Console | None = None) -> None:
        self.drummer = drummer
        self.preset_of = preset_of or (lambda: drummer.preset)
        self.console = console or Console(stderr=False)
        self.grid = BarGrid(drummer.cfg.beats_per_bar)
        drummer.on_window.append(self.grid.add)

    def render(self) -> Group:
        status = status_line(self.drummer.status(), self.preset_of())
        return Group(Text(status, style="bold"), Text("\n".join(self.grid.lines())))

    async def run(self, fps: float = 8.0) -> None:
        with Live(self.render(), console=self.console, refresh_per_second=fps, transient=False) as live:
            while True:
                await asyncio.sleep(1.0 / fps)
                live.update(self.render())
