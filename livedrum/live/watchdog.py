"""Notice a stalled event loop from outside it.

Everything that keeps time runs on the loop; if something blocks it (a slow disk, a runaway
handler), notes come late and nobody inside the loop can tell. A heartbeat task on the loop
stamps the time; a thread checks the stamp and says once per stall how long it lasted.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


class Watchdog:
    def __init__(self, log: Callable[..., None], limit: float = 0.25, period: float = 0.05) -> None:
        self.log, self.limit, self.period = log, limit, period
        self.last = time.monotonic()
        self.stalls = 0
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def heartbeat(self) -> None:
        """On the loop: stamp the time every period (cancel to stop)."""
        self.start()
        try:
            while True:
                self.last = time.monotonic()
                await asyncio.sleep(self.period)
        finally:
            self.stop()

    def start(self) -> None:
        if self._thread is None:
            self.last = time.monotonic()
            self._thread = threading.Thread(target=self._watch, name="livedrum-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def _watch(self) -> None:
        stalled_since: float | None = None
        while not self._stop.wait(self.period):
            now = time.monotonic()
            gap = now - self.last
            if gap > self.limit and stalled_since is None:
                stalled_since = self.last
                self.stalls += 1
                self.log("warning", line=f"the event loop is stalled ({gap * 1000:.0f} ms so far): notes may be late")
            elif gap <= self.limit and stalled_since is not None:
                length = self.last - stalled_since
                self.longest = max(self.longest, length)
                self.log("watchdog", stalled_ms=round(length * 1000, 1))
                stalled_since = None
