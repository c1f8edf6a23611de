"""Every live change to the drummer, validated, in one place: OSC and MIDI controls call these.

A setter checks its value (ValueError or TypeError with a reason, state unchanged), changes the
drummer's settings, and returns the value to echo. Settings are read when the next window is
decided, so a change applies from the next window on; a preset waits for the next bar line.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from livedrum.live.clock import check_bpm
from livedrum.live.control_map import Action
from livedrum.live.drummer import MODES, Drummer
from livedrum.presets import STYLES_DIR, load_preset
from livedrum.vocab import PIECE_NAMES

RESTART_MOVE = 0.25  # a complexity move this large restarts the groove for one bar
PRESET_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def unit(value: Any, name: str) -> float:
    """A number within 0..1 (TouchOSC sends floats, some controllers ints)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} takes a number 0..1, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within 0..1, got {value}")
    return value


def switch(value: Any, name: str) -> bool:
    """On or off from 0/1 as float, int or bool (a TouchOSC toggle sends 1.0 and 0.0)."""
    return unit(value, name) >= 0.5


class Controller:
    """The drummer's live settings: set, validate, report."""

    def __init__(self, drummer: Drummer, styles_dir: str | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.drummer = drummer
        self.styles_dir = styles_dir
        self.now = now
        # every surface (OSC clients, web pages) hears every accepted change, whoever made it
        self.listeners: list[Callable[[str, Any], None]] = []

    def announce(self, changes: list[tuple[str, Any]]) -> None:
        """Tell every surface what changed (OSC, MIDI controls and the web page call this after
        an accepted change); a failing listener must not undo the change or stop the others."""
        for key, value in changes:
            for listener in list(self.listeners):
                try:
                    listener(key, value)
                except Exception:  # a gone client is the listener's business
                    pass

    @property
    def sampling(self):  # noqa: ANN201
        return self.drummer.engine.sampling

    def _sample(self, **changes: Any) -> None:
        self.drummer.engine.sampling = self.sampling.with_(**changes)

    def _feel(self, **changes: Any) -> None:
        d = self.drummer
        d.cfg = replace(d.cfg, feel=replace(d.cfg.feel, **changes))

    # ---- the knobs --------------------------------------------------------------------------

    def complexity(self, value: Any) -> float:
        """A far move restarts the groove for a bar (the drummer copies its own last bar, so it
        would take many bars to get busier or calmer); small moves let it drift."""
        value = unit(value, "complexity")
        old = self.sampling.complexity
        self._sample(complexity=value)
        if abs(value - old) >= RESTART_MOVE:
            d = self.drummer
            d.engine.restart_groove(d.cfg.beats_per_bar, seeded=value < old)
        return value

    def humanize(self, value: Any) -> float:
        value = unit(value, "humanize")
        self._sample(humanize=value)
        return value

    def intensity(self, value: Any) -> float:
        value = unit(value, "intensity")
        self._feel(intensity=value)
        return value

    def swing(self, value: Any) -> float:
        value = unit(value, "swing")
        self._feel(swing=value)
        return value

    def kit(self, piece: str, value: Any) -> bool:
        if piece not in PIECE_NAMES:
            raise ValueError(f"unknown kit piece {piece!r} (known: {', '.join(PIECE_NAMES)})")
        on = switch(value, f"kit/{piece}")
        off = set(self.sampling.kit_off)
        off.discard(piece) if on else off.add(piece)
        self._sample(kit_off=frozenset(off))
        return on

    def toggle_kit(self, piece: str) -> bool:
        return self.kit(piece, 1.0 if piece in self.sampling.kit_off else 0.0)

    def preset(self, name: Any) -> str:
        """Load now (errors now), switch at the next bar line (at once when not playing)."""
        if not isinstance(name, str):
            raise TypeError(f"preset takes a name (string), got {type(name).__name__} {name!r}")
        if not PRESET_NAME.fullmatch(name):  # a name from presets/styles, never a path from the network
            raise ValueError(f"preset names are letters, digits and - _ (up to 64), got {name[:80]!r}")
        p = load_preset(name, STYLES_DIR if self.styles_dir is None else self.styles_dir)  # type: ignore[arg-type]
        d = self.drummer

        def apply() -> None:
            if p.beats_per_bar != d.cfg.beats_per_bar:
                d.meter_start = d.next_beat - 1 if d.playing else 0  # this beat is the new bar's first
            d.cfg = replace(d.cfg, beats_per_bar=p.beats_per_bar,
                            feel=replace(d.cfg.feel, swing=p.swing, intensity=p.intensity))
            d.engine.sampling = d.engine.sampling.with_(complexity=p.complexity, kit_off=p.kit_off)
            styles = getattr(d.engine, "styles", None)
            if styles is not None:  # the genre's weights, between two windows; the encoder state carries on
                styles.use(p.name)
            d.preset = p.name
            d.fills.every = p.fill_every
            d.log("preset", name=p.name)

        if d.playing:
            d.at_next_bar = [c for c in d.at_next_bar if getattr(c, "__name__", "") != "apply"] + [apply]
        else:
            apply()
        return p.name

    def fill(self, bars: Any = None) -> int:
        if bars is not None:
            if isinstance(bars, bool) or not isinstance(bars, int | float) or not math.isfinite(bars) \
                    or float(bars) != int(bars):
                raise TypeError(f"fill takes a whole number of bars, got {bars!r}")
            bars = int(bars)
        start, end = self.drummer.request_fill(bars)
        return end - start

    # ---- time and transport --------------------------------------------------------------------

    def tempo(self, bpm: Any) -> float:
        if isinstance(bpm, bool) or not isinstance(bpm, int | float):
            raise TypeError(f"tempo takes a number (BPM), got {type(bpm).__name__} {bpm!r}")
        bpm = check_bpm(float(bpm))
        self.drummer.set_tempo(bpm)
        return bpm

    def tempo_step(self, delta: float) -> float:
        return self.tempo(min(300.0, max(30.0, self.drummer.cfg.bpm + float(delta))))

    def tap(self) -> float:
        self.drummer.tap(self.now())
        return self.drummer.cfg.bpm

    def start(self) -> str:
        """Play: leading, from the next beat on; following, with the band's next note."""
        d = self.drummer
        d.stopped = False
        if not d.playing and d.cfg.mode == "lead":
            d.start(self.now() + d.cfg.lead_in, play_first=False)
        return "playing" if d.playing else "waiting"

    def stop(self) -> str:
        """Silence now (sounding notes end, nothing planned is sent) and stay silent until start."""
        d = self.drummer
        d.scheduler.drop_pending()
        d.halt_clock()
        d.stop(ending=False)
        d.stopped = True
        return "stopped"

    def pause(self, value: Any = None) -> str:
        if value is None:
            return self.start() if self.drummer.stopped else self.stop()
        return self.stop() if switch(value, "pause") else self.start()

    def mode(self, name: Any) -> str:
        if not isinstance(name, str):
            raise TypeError(f"mode takes follow or lead, got {type(name).__name__} {name!r}")
        if name not in MODES:
            raise ValueError(f"mode must be follow or lead, got {name!r}")
        d = self.drummer
        d.cfg = replace(d.cfg, mode=name)
        d.engine.lead = name == "lead"
        if name == "lead" and not d.playing and not d.stopped:
            d.start(self.now() + d.cfg.lead_in, play_first=False)
        return name

    # ---- what it all is now ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        d, s = self.drummer, self.sampling
        status = d.status()
        out: dict[str, Any] = {
            "complexity": s.complexity, "intensity": d.cfg.feel.intensity, "swing": d.cfg.feel.swing,
            "humanize": s.humanize, "preset": d.preset, "tempo": d.cfg.bpm, "mode": d.cfg.mode,
            "state": "stopped" if d.stopped else status.state, "bar": status.bar, "beat": status.beat,
            "notes": status.notes, "late": status.late,
        }
        for piece in PIECE_NAMES:
            out[f"kit/{piece}"] = piece not in s.kit_off
        return out

    def apply(self, action: Action) -> list[tuple[str, Any]]:
        """A MIDI control's action; the (setting, value) pairs that changed, for OSC feedback."""
        name, value = action.name, action.value
        if name in ("complexity", "intensity", "swing", "humanize"):
            return [(name, getattr(self, name)(value))]
        if name == "kit":
            assert action.piece is not None
            on = self.toggle_kit(action.piece) if value in (None, "toggle") else self.kit(
                action.piece, 1.0 if value in (True, "on", 1, 1.0) else 0.0)
            return [(f"kit/{action.piece}", on)]
        if name in ("fill", "transition"):
            self.fill(None)
            return []
        if name == "tempo":
            return [("tempo", self.tempo(value))]
        if name == "tempo_step":
            return [("tempo", self.tempo_step(float(value or 0.0)))]
        if name == "tap":
            return [("tempo", self.tap())]
        if name in ("start", "stop"):
            getattr(self, name)()
            return []
        if name == "pause":
            self.pause(None if value in (None, "toggle") else (1.0 if value in ("on", "pause", 1, True) else 0.0))
            return []
        if name == "preset":
            return [("preset", self.preset(value))]
        if name == "mode":
            target = value if value in MODES else ("lead" if self.drummer.cfg.mode == "follow" else "follow")
            return [("mode", self.mode(target))]
        raise ValueError(f"unknown action {name!r}")
