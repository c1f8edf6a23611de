"""Ableton Link (`--clock link`): the drummer plays on a Link session's tempo and bar phase.

Through `aalink` (the optional extra `livedrum[link]`). Link's clock is the host's monotonic clock
(std::chrono::steady_clock, the one `time.monotonic()` reads), so its beat time stamps need no
conversion. The quantum is the bar length, so our downbeats fall on the session's. A tempo we set
(OSC, tap) is committed to the session, and every peer follows it.
"""

from __future__ import annotations

from collections.abc import Callable

from livedrum.live.clock import MAX_BPM, MIN_BPM, Grid, check_bpm

Log = Callable[..., None]


class LinkSync:
    """A Link peer of our own, read once per beat window. Make it inside the running event loop."""

    external = True  # see Sync

    def __init__(self, bpm: float, quantum: int, log: Log | None = None) -> None:
        try:
            from aalink import Link
        except ImportError as exc:
            raise ValueError("--clock link needs aalink: pip install 'livedrum[link]'") from exc
        self.log: Log = log or (lambda event, **fields: None)
        self.link = Link(check_bpm(bpm))
        self.link.quantum = quantum
        self.link.enabled = True
        self._peers = 0
        self._absurd = False

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    def grid(self, now: float) -> Grid | None:
        link = self.link
        beat, t, bpm = float(link.beat), link.time.total_seconds(), float(link.tempo)
        peers = self.peers
        if peers != self._peers:
            self.log("link", line=f"Link: {peers} peer{'s' if peers != 1 else ''}, {bpm:.1f} BPM", peers=peers)
            self._peers = peers
        if not MIN_BPM <= bpm <= MAX_BPM:  # a peer may set 20 or 999: hold ours
            if not self._absurd:
                self.log("warning", line=f"Link session at {bpm:.1f} BPM is out of range "
                                         f"({MIN_BPM:.0f}..{MAX_BPM:.0f}): holding the tempo")
            self._absurd = True
            return None
        self._absurd = False
        return Grid(t, beat, bpm)

    def request_tempo(self, bpm: float) -> None:
        self.link.tempo = check_bpm(bpm)

    def begin(self, t0: float, bpm: float, beat: float) -> None:
        """Nothing to do: the session's beats do not depend on when the drummer starts."""


    def close(self) -> None:
        self.link.enabled = False


def check_link() -> None:
    """ValueError in one line when aalink is not installed (checked before anything starts)."""
    import importlib.util

    if importlib.util.find_spec("aalink") is None:
        raise ValueError("--clock link needs aalink: pip install 'livedrum[link]'")
