"""Say why a note went out late: a musician (and a soak run) should learn the cause, not a count.

The send loop wakes shortly before a note and spins to its time. An output that takes long to
accept a message is named first. Woken after the note was due,
the loop was busy with other work or the process did not get the CPU; woken in time but sent
late, the spinning thread lost the CPU or the GIL meanwhile. A garbage collection just before is
named too. Lines are rate-limited: a slow machine must not also flood the log.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

EVERY_SECONDS = 1.0  # at most one line a second; the rest are counted into the next


class LateNotes:
    """The scheduler's `on_late`: one log line per late note, with its cause."""

    def __init__(self, log: Callable[..., None], now: Callable[[], float] = time.monotonic) -> None:
        self.log, self.now = log, now
        self.quiet = 0  # late notes not yet told
        self._last_line = -EVERY_SECONDS
        self._gc_started = 0.0
        self.gc_end = -1.0
        self.gc_ms = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = self.now()
        else:
            self.gc_end = self.now()
            self.gc_ms = (self.gc_end - self._gc_started) * 1000.0

    def close(self) -> None:
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def __call__(self, planned: float, began: float, sent: float, woke: float) -> None:
        late_ms, woke_ms, send_ms = (sent - planned) * 1000.0, (woke - planned) * 1000.0, (sent - began) * 1000.0
        if began - planned < 0.0005 and send_ms > 0.5:
            cause = f"the output port took {send_ms:.1f} ms to take it"
        elif woke > planned:
            cause = f"the send loop woke {woke_ms:.1f} ms after it was due (busy loop or no CPU)"
        else:
            cause = "the sending thread lost the CPU or the GIL while waiting for it"
        if planned - 0.01 <= self.gc_end <= sent:
            cause += f"; a garbage collection of {self.gc_ms:.1f} ms ran just before"
        if sent - self._last_line < EVERY_SECONDS:
            self.quiet += 1
            return
        more = f" ({self.quiet} more since the last line)" if self.quiet else ""
        self.log("late", line=f"a note went out {late_ms:.1f} ms late: {cause}{more}",
                 late_ms=round(late_ms, 3), woke_ms=round(woke_ms, 3), send_ms=round(send_ms, 3),
                 gc_ms=round(self.gc_ms, 3),
                 untold=self.quiet)
        self._last_line, self.quiet = sent, 0
