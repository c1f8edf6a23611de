"""The MIDI control map: which messages from footswitches and controllers steer the drummer.

Musicians steer the live drummer over MIDI, often through the very ports the band plays into, so
every incoming message is asked first whether it is a control. A map file
`presets/controls/NAME.toml` lists `[[cc]]`, `[[note]]` and `[[program]]` entries (the schema is in
`presets/controls/README.md`); `load_controls` checks the whole file up front, so a typo fails at
start-up with one line naming the file and the entry, not in the middle of a song. A message a map
claims never reaches the band: the note-off of a mapped note is claimed with its note-on, so no
stray note-off reaches the listener.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import mido

from livedrum.live.clock import MAX_BPM, MIN_BPM
from livedrum.vocab import PIECE_NAMES

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets" / "controls"
DEFAULT_CONTROLS = "beatbuddy"

CONTINUOUS = ("complexity", "intensity", "swing", "humanize")
SWITCHES = ("kit", "pause")  # on, off or toggle
ACTIONS = (*CONTINUOUS, "kit", "preset", "fill", "transition", "tempo", "tempo_step", "tap", "start", "stop",
           "pause", "mode")
SWITCH_VALUES = ("on", "off", "toggle")
MODE_VALUES = ("follow", "lead", "toggle")
PRESS = 64  # footswitches send 127 on press and 0 on release: the press is at or above this
NOTE_TYPES = ("note_on", "note_off", "polytouch")
T = TypeVar("T")


@dataclass(frozen=True)
class Action:
    """What a control message asks of the drummer.

    complexity, intensity, swing, humanize: value 0..1. tempo: value in BPM. tempo_step: value in
    BPM to add (negative slows down). kit: value "on", "off" or "toggle" for `piece`. pause: "on"
    (pause), "off" (play on) or "toggle". preset: value is the preset's name. mode: "follow",
    "lead" or "toggle". fill, transition, tap, start, stop: no value.
    """

    name: str
    value: float | str | None = None
    piece: str | None = None  # for "kit"

    def __post_init__(self) -> None:
        if self.name not in ACTIONS:
            raise ValueError(f"unknown action {self.name!r} (known: {', '.join(ACTIONS)})")


@dataclass(frozen=True)
class Binding:
    """One map entry, checked: how a message's value becomes an action."""

    action: str
    low: float = 0.0  # continuous and linear tempo: the value at CC 0
    high: float = 1.0  # ... and at CC 127
    offset: float | None = None  # tempo: BPM = CC value + offset
    msb: int | None = None  # tempo: BPM = 128 * (last value of CC msb) + CC value
    threshold: int = PRESS  # a press is a value at or above this
    edge: bool = False  # a press counts only after a value below the threshold (continuous pedals)
    step: float = 0.0  # tempo_step: BPM per press, or per unit of value with by_value
    by_value: bool = False
    piece: str | None = None
    mode: str = "toggle"  # kit and pause: "toggle" (a press toggles) or "switch" (the value says on or off)
    values: tuple[tuple[int, str], ...] = ()  # kit and pause: exact values that say on, off or toggle
    value: str | None = None  # preset: its name; mode: follow, lead or toggle


class ControlMap:
    """A loaded map: `action_for` says what a message asks for, `claims` whether it is a control.

    `action_for` keeps a little state (the tempo MSB last seen, the last value of an `edge`
    controller): call it once per message. `claims` has none: it may be asked any number of times.
    """

    def __init__(self, name: str, cc: Mapping[tuple[int | None, int], Binding],
                 notes: Mapping[tuple[int | None, int], Binding],
                 programs: Mapping[tuple[int | None, int], str],
                 description: str = "") -> None:
        self.name = name
        self.description = description
        self._cc = dict(cc)
        self._notes = dict(notes)
        self._programs = dict(programs)
        # (channel, MSB controller) -> its LSB controller: the MSB is claimed and remembered
        self._msb_of = {(ch, b.msb): control for (ch, control), b in self._cc.items() if b.msb is not None}
        self._msb: dict[tuple[int, int], int] = {}  # (channel, control) -> last MSB value
        self._last: dict[tuple[int, int], int] = {}  # (channel, control) -> last value, for edge

    def __repr__(self) -> str:
        return (f"ControlMap({self.name!r}: {len(self._cc)} CC, {len(self._notes)} notes, "
                f"{len(self._programs)} programs)")

    def claims(self, message: mido.Message) -> bool:
        """True when the message is consumed as a control and must not reach the band."""
        kind = message.type
        if kind == "control_change":
            key = message.channel, message.control
            return _lookup(self._cc, *key) is not None or _lookup(self._msb_of, *key) is not None
        if kind in NOTE_TYPES:
            return _lookup(self._notes, message.channel, message.note) is not None
        if kind == "program_change":
            return _lookup(self._programs, message.channel, message.program) is not None
        return False

    def action_for(self, message: mido.Message) -> Action | None:
        """The action the message asks for; None for band music and for a control that asks for
        nothing by itself (a release, a claimed note-off, a tempo MSB): `claims` tells them apart."""
        kind = message.type
        if kind == "control_change":
            return self._control(message.channel, message.control, message.value)
        if kind in ("note_on", "note_off"):
            binding = _lookup(self._notes, message.channel, message.note)
            if binding is None:
                return None
            return _note_action(binding, kind == "note_on" and message.velocity > 0)
        if kind == "program_change":
            preset = _lookup(self._programs, message.channel, message.program)
            return None if preset is None else Action("preset", preset)
        return None

    def _control(self, channel: int, control: int, value: int) -> Action | None:
        if _lookup(self._msb_of, channel, control) is not None:
            self._msb[channel, control] = value
        b = _lookup(self._cc, channel, control)
        if b is None:
            return None
        previous = self._last.get((channel, control))
        if b.edge:
            self._last[channel, control] = value
        if b.action in CONTINUOUS:
            return Action(b.action, b.low + (b.high - b.low) * value / 127)
        if b.action == "tempo":
            return Action("tempo", self._tempo(b, channel, value))
        if b.action == "tempo_step" and b.by_value:
            return Action("tempo_step", b.step * value) if value > 0 else None
        exact = dict(b.values).get(value)
        if exact is not None:
            return Action(b.action, exact, b.piece)
        pressed = value >= b.threshold
        if b.action in SWITCHES and b.mode == "switch":
            return Action(b.action, "on" if pressed else "off", b.piece)
        if not pressed or (b.edge and previous is not None and previous >= b.threshold):
            return None
        return _press(b)

    def _tempo(self, b: Binding, channel: int, value: int) -> float:
        if b.msb is not None:
            bpm = 128.0 * self._msb.get((channel, b.msb), 0) + value
        elif b.offset is not None:
            bpm = value + b.offset
        else:
            bpm = b.low + (b.high - b.low) * value / 127
        return float(min(MAX_BPM, max(MIN_BPM, bpm)))


def _lookup(table: Mapping[tuple[int | None, int], T], channel: int, number: int) -> T | None:
    """The entry for this channel, else the one for any channel."""
    found = table.get((channel, number))
    return table.get((None, number)) if found is None else found


def _press(b: Binding) -> Action:
    if b.action in SWITCHES:
        return Action(b.action, "toggle", b.piece)
    if b.action == "tempo_step":
        return Action("tempo_step", b.step)
    if b.action in ("preset", "mode"):
        return Action(b.action, b.value)
    return Action(b.action)


def _note_action(b: Binding, down: bool) -> Action | None:
    if b.action in SWITCHES and b.mode == "switch":
        return Action(b.action, "on" if down else "off", b.piece)
    return _press(b) if down else None


# ---- loading -----------------------------------------------------------------------------

class _EntryError(Exception):
    """A problem in one entry; load_controls adds the file's name."""


def available_controls(presets_dir: Path | None = None) -> list[str]:
    """The names of the maps in the presets folder."""
    folder = PRESETS_DIR if presets_dir is None else Path(presets_dir)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_controls(name_or_path: str, presets_dir: Path | None = None) -> ControlMap:
    """A map by name (`presets/controls/NAME.toml`) or by path to a .toml file; ValueError with one
    line naming the file and the problem, so a bad map stops the daemon before it plays."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"control map {path} does not exist")
    else:
        folder = PRESETS_DIR if presets_dir is None else Path(presets_dir)
        path = folder / f"{text}.toml"
        if not path.is_file():
            known = ", ".join(available_controls(folder)) or "none"
            raise ValueError(f"unknown control map {text!r} (available: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return _parse(path.stem, data)
    except _EntryError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _parse(name: str, data: dict) -> ControlMap:
    _only(data, {"description", "channel", "cc", "note", "program"}, "the top level")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _EntryError("description must be a string")
    default_channel = _channel(data, "the top level", None)
    cc: dict[tuple[int | None, int], Binding] = {}
    notes: dict[tuple[int | None, int], Binding] = {}
    programs: dict[tuple[int | None, int], str] = {}
    for section, number_key, table in (("cc", "control", cc), ("note", "note", notes)):
        for where, entry in _entries(data, section):
            number = _int(entry, number_key, where, 0, 127, required=True)
            channel = _channel(entry, where, default_channel)
            _put(table, (channel, number), _binding(entry, section, where), where, f"{number_key} {number}")
    for (channel, control), b in cc.items():
        if b.msb is not None and any(number == b.msb and (ch is None or channel is None or ch == channel)
                                     for ch, number in cc):
            raise _EntryError(f"CC {b.msb} is the tempo MSB of CC {control} and cannot have an action of its own")
    for where, entry in _entries(data, "program"):
        _only(entry, {"program", "preset", "presets", "channel"}, where)
        channel = _channel(entry, where, default_channel)
        if ("preset" in entry) == ("presets" in entry):
            raise _EntryError(f"{where}: give either preset (with program) or presets (a list of names)")
        if "preset" in entry:
            first = _int(entry, "program", where, 0, 127, required=True)
            names = [_name(entry["preset"], f"{where}: preset")]
        else:
            first = _int(entry, "program", where, 0, 127, default=0)
            if not isinstance(entry["presets"], list) or not entry["presets"]:
                raise _EntryError(f"{where}: presets must be a list of preset names")
            names = [_name(n, f"{where}: presets") for n in entry["presets"]]
            if first + len(names) - 1 > 127:
                raise _EntryError(f"{where}: {len(names)} presets from program {first} run past program 127")
        for i, preset in enumerate(names):
            _put(programs, (channel, first + i), preset, where, f"program {first + i}")
    return ControlMap(name, cc, notes, programs, description)


def _entries(data: dict, section: str) -> list[tuple[str, dict]]:
    entries = data.get(section, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _EntryError(f"{section} must be a list of tables: write [[{section}]] above each entry")
    return [(f"[[{section}]] #{i}", e) for i, e in enumerate(entries, 1)]


def _put(table: dict, key: tuple[int | None, int], value: object, where: str, what: str) -> None:
    if key in table:
        on = "any channel" if key[0] is None else f"channel {key[0] + 1}"
        raise _EntryError(f"{where}: {what} on {on} is mapped twice")
    table[key] = value


def _binding(entry: dict, section: str, where: str) -> Binding:
    action = entry.get("action")
    if action is None:
        raise _EntryError(f"{where}: missing 'action'")
    if action not in ACTIONS:
        raise _EntryError(f"{where}: unknown action {action!r} (known: {', '.join(ACTIONS)})")
    base = {"action", "channel", "control" if section == "cc" else "note"}
    is_cc = section == "cc"
    press = {"threshold", "edge"} if is_cc else set()
    if action in CONTINUOUS or action == "tempo":
        if not is_cc:
            raise _EntryError(f"{where}: {action} needs a value: map it from a [[cc]], not a note")
        if action == "tempo":
            return _tempo_binding(entry, base, where)
        _only(entry, base | {"min", "max"}, where)
        low, high = (_number(entry, k, where, 0.0, 1.0, default=d) for k, d in (("min", 0.0), ("max", 1.0)))
        return Binding(action, low=low, high=high)
    threshold = _int(entry, "threshold", where, 1, 127, default=PRESS)
    edge = _bool(entry, "edge", where, False)
    if action == "tempo_step":
        by_value = _bool(entry, "by_value", where, False)
        if by_value and not is_cc:
            raise _EntryError(f"{where}: by_value needs a [[cc]]")
        allowed = base | {"step"} | ({"by_value"} if is_cc else set())
        _only(entry, allowed if by_value else allowed | press, where)  # with by_value every value counts
        step = _number(entry, "step", where, -MAX_BPM, MAX_BPM, required=True)
        if step == 0:
            raise _EntryError(f"{where}: step must not be 0")
        return Binding(action, step=step, by_value=by_value, threshold=threshold, edge=edge)
    if action in SWITCHES:
        allowed = base | {"mode"} | press | ({"values"} if is_cc else set())
        _only(entry, allowed | {"piece"} if action == "kit" else allowed, where)
        piece = None
        if action == "kit":
            piece = entry.get("piece")
            if piece is None:
                raise _EntryError(f"{where}: missing 'piece' (one of {', '.join(PIECE_NAMES)})")
            if piece not in PIECE_NAMES:
                raise _EntryError(f"{where}: unknown kit piece {piece!r} (known: {', '.join(PIECE_NAMES)})")
        default_mode = "switch" if action == "kit" and is_cc else "toggle"
        mode = entry.get("mode", default_mode)
        if mode not in ("toggle", "switch"):
            raise _EntryError(f"{where}: mode must be toggle or switch, got {mode!r}")
        values = _values(entry.get("values", {}), where)
        return Binding(action, piece=piece, mode=mode, values=values, threshold=threshold, edge=edge)
    if action in ("preset", "mode"):
        _only(entry, base | {"value"} | press, where)
        if action == "preset":
            if "value" not in entry:
                raise _EntryError(f"{where}: missing 'value' (the preset's name)")
            value = _name(entry["value"], f"{where}: value")
        else:
            value = entry.get("value", "toggle")
            if value not in MODE_VALUES:
                raise _EntryError(f"{where}: mode value must be one of {', '.join(MODE_VALUES)}, got {value!r}")
        return Binding(action, value=value, threshold=threshold, edge=edge)
    _only(entry, base | press, where)
    return Binding(action, threshold=threshold, edge=edge)


def _tempo_binding(entry: dict, base: set[str], where: str) -> Binding:
    _only(entry, base | {"msb", "offset", "min", "max"}, where)
    forms = [k for k in ("msb", "offset", "min") if k in entry]
    if len(forms) != 1 or ("min" in entry) != ("max" in entry):
        raise _EntryError(f"{where}: tempo needs exactly one of msb, offset, or min and max")
    if "msb" in entry:
        msb = _int(entry, "msb", where, 0, 127, required=True)
        if msb == entry["control"]:
            raise _EntryError(f"{where}: msb must be another controller than control {msb}")
        return Binding("tempo", msb=msb)
    if "offset" in entry:
        offset = _number(entry, "offset", where, MIN_BPM - 127, MAX_BPM, required=True)
        return Binding("tempo", offset=offset)
    low, high = (_number(entry, k, where, MIN_BPM, MAX_BPM, required=True) for k in ("min", "max"))
    return Binding("tempo", low=low, high=high)


def _only(entry: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise _EntryError(f"{where}: unknown key {unknown[0]!r} here (allowed: {', '.join(sorted(allowed))})")


def _int(entry: dict, key: str, where: str, low: int, high: int, default: int | None = None,
         required: bool = False) -> int:
    if key not in entry:
        if required:
            raise _EntryError(f"{where}: missing {key!r}")
        return default  # type: ignore[return-value]
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _EntryError(f"{where}: {key} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise _EntryError(f"{where}: {key} must be within {low}..{high}, got {value}")
    return value


def _number(entry: dict, key: str, where: str, low: float, high: float, default: float | None = None,
            required: bool = False) -> float:
    if key not in entry:
        if required:
            raise _EntryError(f"{where}: missing {key!r}")
        return default  # type: ignore[return-value]
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _EntryError(f"{where}: {key} must be a number, got {value!r}")
    if not low <= value <= high:
        raise _EntryError(f"{where}: {key} must be within {low:g}..{high:g}, got {value:g}")
    return float(value)


def _bool(entry: dict, key: str, where: str, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise _EntryError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _channel(entry: dict, where: str, default: int | None) -> int | None:
    """A channel as written (1..16) to mido's 0..15; None: any channel."""
    if "channel" not in entry:
        return default
    return _int(entry, "channel", where, 1, 16) - 1


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _EntryError(f"{where} must be a preset name, got {value!r}")
    return value.strip()


def _values(table: object, where: str) -> tuple[tuple[int, str], ...]:
    if not isinstance(table, dict):
        raise _EntryError(f"{where}: values must be a table like {{ 0 = \"off\", 1 = \"on\" }}")
    out = []
    for key, value in table.items():
        if not key.isdigit() or int(key) > 127:
            raise _EntryError(f"{where}: values keys must be CC values 0..127, got {key!r}")
        if value not in SWITCH_VALUES:
            raise _EntryError(f"{where}: values must say on, off or toggle, got {value!r} for {key}")
        out.append((int(key), value))
    return tuple(sorted(out))
