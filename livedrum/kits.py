"""Kit maps: the drummer's General MIDI notes turned into what a drum plugin or drum machine expects.

The drummer plays a 22-note GM vocabulary on channel 10, but Superior Drummer, Addictive Drums, a
Drum Rack or a TR-8S each lay their sounds out on notes of their own, some on other channels, and some
open the hi-hat with a pedal controller instead of a note. A kit map `presets/kits/NAME.toml` (the
schema is in `presets/kits/README.md`) says where every vocabulary note goes. `load_kit` checks the
whole file up front, so a typo fails at start-up with one line naming the file, never mid-song.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import mido

from livedrum.vocab import DRUM_NOTES, KIT_PIECES, PIECE_NAMES, voice_of

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib

KITS_DIR = Path(__file__).resolve().parent.parent / "presets" / "kits"
DEFAULT_KIT = "gm"
GM_CHANNEL = 9  # channel 10 on the devices' displays
HIHAT_NOTES = (42, 44, 46)  # closed, pedal, open
PIECE_OF_NOTE: dict[int, str] = {n: piece for piece, notes in KIT_PIECES.items() for n in notes}
FALLBACKS = ("nearest", "gm")

# For a vocabulary note a file leaves out: its relatives, nearest first. The first one the file maps
# lends its note, so a plugin that moved the snare also moves the electric snare and the side stick,
# rather than leaving them on GM numbers that may mean something else there (a cymbal choke, say).
RELATED: dict[int, tuple[int, ...]] = {
    35: (36,), 36: (35,),
    37: (38, 40), 38: (40, 37), 40: (38, 37),
    42: (44, 46), 44: (42, 46), 46: (42, 44),
    41: (43, 45, 47, 48, 50), 43: (41, 45, 47, 48, 50), 45: (47, 43, 48, 41, 50),
    47: (45, 48, 43, 50, 41), 48: (50, 47, 45, 43, 41), 50: (48, 47, 45, 43, 41),
    49: (57, 55, 52, 51, 59, 53), 57: (49, 55, 52, 51, 59, 53), 55: (49, 57, 52, 51, 59, 53),
    52: (49, 57, 55, 51, 59, 53), 51: (59, 53, 49, 57, 55, 52), 59: (51, 53, 49, 57, 55, 52),
    53: (51, 59, 49, 57, 55, 52),
    56: (53, 37),  # cowbell: the ride bell, else the side stick
}
TOP_KEYS = ("description", "channel", "velocity_curve", "velocity_min", "velocity_max", "fallback",
            "channels", "notes", "articulations", "hihat_cc")
HIHAT_CC_KEYS = ("controller", "closed", "pedal", "open")


@dataclass(frozen=True)
class HihatCC:
    """Hi-hat openness sent as a controller value just before each hat note (e-drum style).

    CC 4 (foot controller) is what e-drum hi-hat pedals send and what drum plugins listen to in their
    e-drum modes; 127 is the pedal pressed down (closed), 0 the hat fully open.
    """

    controller: int = 4
    closed: int = 127
    pedal: int = 127
    open: int = 0

    def __post_init__(self) -> None:
        for key in ("controller", "closed", "pedal", "open"):
            if not 0 <= getattr(self, key) <= 127:
                raise ValueError(f"hi-hat {key} must be within 0..127, got {getattr(self, key)}")

    def value(self, note: int) -> int | None:
        """The controller value for a hat note (42 closed, 44 pedal, 46 open); None for any other note."""
        return dict(zip(HIHAT_NOTES, (self.closed, self.pedal, self.open), strict=True)).get(note)


@dataclass(frozen=True)
class KitMap:
    """Where each vocabulary note goes: (GM note, channel 0-15, output note) routes, a velocity curve
    and an optional hi-hat controller. Notes without a route play their GM number on `channel`, so
    `KitMap("gm")` is General MIDI itself."""

    name: str
    description: str = ""
    channel: int = GM_CHANNEL  # 0..15
    routes: tuple[tuple[int, int, int], ...] = ()
    velocity_curve: float = 1.0  # gamma: above 1 softens the quiet hits, below 1 lifts them
    velocity_min: int = 1
    velocity_max: int = 127
    hihat_cc: HihatCC | None = None
    articulations: tuple[tuple[str, int], ...] = field(default=(), repr=False)  # the file's named notes

    def __post_init__(self) -> None:
        if not 0 <= self.channel <= 15:
            raise ValueError(f"kit {self.name}: channel index must be 0..15, got {self.channel}")
        if not (self.velocity_curve > 0 and math.isfinite(self.velocity_curve)):
            raise ValueError(f"kit {self.name}: velocity_curve must be a positive number, got {self.velocity_curve}")
        if not 1 <= self.velocity_min <= self.velocity_max <= 127:
            raise ValueError(f"kit {self.name}: velocities must satisfy 1 <= min <= max <= 127, "
                             f"got {self.velocity_min}..{self.velocity_max}")
        for gm, ch, out in self.routes:
            if not (0 <= ch <= 15 and 0 <= out <= 127):
                raise ValueError(f"kit {self.name}: route for {gm} is out of range: channel {ch}, note {out}")

    @cached_property
    def _table(self) -> dict[int, tuple[int, int]]:
        return {gm: (ch, out) for gm, ch, out in self.routes}

    def velocity(self, velocity: int) -> int:
        """A hit's velocity (1..127; 0 counts as 1) through the curve onto velocity_min..velocity_max."""
        x = (min(max(int(velocity), 1), 127) - 1) / 126
        v = self.velocity_min + (self.velocity_max - self.velocity_min) * x ** self.velocity_curve
        return min(max(round(v), self.velocity_min, 1), self.velocity_max, 127)

    def out_note(self, note: int) -> tuple[int, int]:
        """(channel 0-15, output note) for a GM drum note. Other GM drum notes are folded onto the
        vocabulary first (39 hand clap plays the snare); notes with no place in the kit pass through
        unchanged on the kit's channel."""
        voice = voice_of(note)
        gm = note if voice is None else DRUM_NOTES[voice]
        return self._table.get(gm, (self.channel, gm))

    def map(self, note: int, velocity: int) -> list[mido.Message]:
        """The messages for one hit: the hat's openness controller first when the map has one, then
        the note-on with the velocity through the curve."""
        channel, out = self.out_note(note)
        messages = []
        voice = voice_of(note)
        if self.hihat_cc is not None and voice is not None:
            value = self.hihat_cc.value(DRUM_NOTES[voice])
            if value is not None:
                messages.append(mido.Message("control_change", channel=channel,
                                             control=self.hihat_cc.controller, value=value))
        messages.append(mido.Message("note_on", channel=channel, note=out, velocity=self.velocity(velocity)))
        return messages

    def note_off(self, note: int) -> list[mido.Message]:
        """The note-off matching `map(note, ...)`: same channel and output note."""
        channel, out = self.out_note(note)
        return [mido.Message("note_off", channel=channel, note=out, velocity=0)]


# ---- loading -----------------------------------------------------------------------------

class _KitError(Exception):
    """A problem in a kit file; load_kit adds the file's name."""


def available_kits(kits_dir: Path = KITS_DIR) -> list[str]:
    """The names of the kit maps in the kits folder."""
    folder = Path(kits_dir)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_kit(name_or_path: str, kits_dir: Path = KITS_DIR) -> KitMap:
    """A kit map by name (`presets/kits/NAME.toml`) or by path to a .toml file; ValueError with one
    line naming the file and the problem, so a bad map stops the drummer before it plays."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"kit map {path} does not exist")
    else:
        path = Path(kits_dir) / f"{text}.toml"
        if not path.is_file():
            known = ", ".join(available_kits(kits_dir)) or "none"
            raise ValueError(f"unknown kit {text!r}: there is no {path} (available: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML: {_one_line(exc)}") from exc
    try:
        return _parse(path.stem, data)
    except _KitError as exc:
        raise ValueError(f"{path}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _parse(name: str, data: dict) -> KitMap:
    _only(data, TOP_KEYS, "the top level")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _KitError("description must be a string")
    channel = _int(data, "channel", "the top level", 1, 16, 10) - 1
    curve = data.get("velocity_curve", 1.0)
    if isinstance(curve, bool) or not isinstance(curve, int | float) or not (curve > 0 and math.isfinite(curve)):
        raise _KitError(f"velocity_curve must be a positive number (1.0: unchanged), got {curve!r}")
    vmin = _int(data, "velocity_min", "the top level", 1, 127, 1)
    vmax = _int(data, "velocity_max", "the top level", 1, 127, 127)
    if vmin > vmax:
        raise _KitError(f"velocity_min {vmin} is above velocity_max {vmax}")
    fallback = data.get("fallback", "nearest")
    if fallback not in FALLBACKS:
        raise _KitError(f"fallback must be one of {', '.join(FALLBACKS)}, got {fallback!r}")

    piece_channel = {piece: channel for piece in PIECE_NAMES}
    channels = _table(data, "channels")
    for piece in channels:
        if piece not in PIECE_NAMES:
            raise _KitError(f"[channels]: unknown kit piece {piece!r} (known: {', '.join(PIECE_NAMES)})")
        piece_channel[piece] = _int(channels, piece, "[channels]", 1, 16, None) - 1

    articulations = _table(data, "articulations")
    for key in articulations:
        _int(articulations, key, "[articulations]", 0, 127, None)

    named: dict[int, int] = {}
    notes = _table(data, "notes")
    for key, value in notes.items():
        gm = int(key) if key.isdigit() else None
        if gm not in PIECE_OF_NOTE:
            raise _KitError(f"[notes]: {key!r} is not a GM note of the drum vocabulary "
                            f"({', '.join(map(str, DRUM_NOTES))})")
        if isinstance(value, str):
            if value not in articulations:
                known = ", ".join(articulations) or "none"
                raise _KitError(f"[notes] {key}: unknown articulation {value!r} (named in [articulations]: {known})")
            named[gm] = articulations[value]
        else:
            named[gm] = _int(notes, key, "[notes]", 0, 127, None)

    routes = []
    for gm in DRUM_NOTES:
        source = gm
        if gm not in named and fallback == "nearest":
            source = next((r for r in RELATED.get(gm, ()) if r in named), gm)
        out = named.get(source, gm)
        routes.append((gm, piece_channel[PIECE_OF_NOTE[source]], out))

    hihat_cc = None
    if "hihat_cc" in data:
        table = _table(data, "hihat_cc")
        _only(table, HIHAT_CC_KEYS, "[hihat_cc]")
        defaults = HihatCC()
        hihat_cc = HihatCC(**{k: _int(table, k, "[hihat_cc]", 0, 127, getattr(defaults, k)) for k in HIHAT_CC_KEYS})

    return KitMap(name=name, description=description, channel=channel, routes=tuple(routes),
                  velocity_curve=float(curve), velocity_min=vmin, velocity_max=vmax, hihat_cc=hihat_cc,
                  articulations=tuple(articulations.items()))


def _only(table: dict, allowed: tuple[str, ...], where: str) -> None:
    extra = [k for k in table if k not in allowed]
    if extra:
        raise _KitError(f"{where}: unknown key(s) {', '.join(map(repr, extra))} (known: {', '.join(allowed)})")


def _table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _KitError(f"{key} must be a table ([{key}])")
    return value


def _int(table: dict, key: str, where: str, low: int, high: int, default: int | None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _KitError(f"{where}: {key} must be a whole number within {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise _KitError(f"{where}: {key} must be within {low}..{high}, got {value}")
    return value
