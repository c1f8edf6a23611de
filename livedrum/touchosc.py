"""A TouchOSC (Mk2) layout for the daemon's OSC addresses, generated from a readable TOML description.

A .tosc file is one zlib stream of XML: ``<lexml version='3'>`` holding one root ``GROUP`` node whose
``<children>`` are the controls. Every node has ``<properties>`` (typed: ``b`` bool, ``i`` int, ``f``
float, ``s`` string, ``r`` frame rect, ``c`` RGBA colour), ``<values>`` (``touch``, ``x``, ``y``, ``text``)
and, for controls that talk, ``<messages>`` with ``<osc>`` entries: flags, the values that trigger a send,
a path made of ``<partial>`` pieces and argument partials (``VALUE`` of a control value, scaled from 0..1 to
scaleMin..scaleMax, or a ``CONSTANT``). The element order, CDATA and one-element-per-line style copy a file
saved by the TouchOSC editor (see presets/touchosc/README.md for the references). Output is deterministic:
node IDs are uuid5 of the control names, so the committed .tosc can be checked against its TOML.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LEXML_VERSION = "3"
DEFAULT_TOML = Path(__file__).resolve().parent.parent / "presets" / "touchosc" / "layout.toml"
KINDS = ("xy", "fader", "toggle", "button", "label")

# TouchOSC enumeration values, as the editor writes them.
_MOMENTARY, _TOGGLE_RELEASE, _TOGGLE_PRESS = 0, 1, 2  # BUTTON buttonType
_NORTH, _EAST = 0, 1  # orientation: vertical fader (value grows upwards), horizontal (grows to the right)
_ALIGN_CENTER, _ALIGN_MIDDLE = 2, 2  # LABEL textAlignH / textAlignV
_CONNECTIONS = "11111"  # every connection of a version-3 document: configure connection 1 on the phone
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/livedrum/touchosc")
_ADDRESS = re.compile(r"^/[A-Za-z0-9_./-]+$")
_COLOR = re.compile(r"^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$")

_DEFAULT_COLORS = {"xy": "#3D7EAA", "fader": "#3D7EAA", "toggle": "#2E9E6B", "button": "#C8782A",
                   "label": "#00000000"}
_CAPTION_COLOR = "#FFFFFF"


# ---------------------------------------------------------------- XML writing (the editor's own style)

def _num(v: float) -> str:
    """A number as the editor writes it: integers bare, floats without trailing zeros."""
    text = f"{float(v):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _cdata(text: str) -> str:
    """Text in CDATA, as the editor stores keys and strings; a literal ']]>' is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _prop(kind: str, key: str, value: Any) -> str:
    if kind == "r":
        x, y, w, h = value
        body = f"\n<x>{int(x)}</x>\n<y>{int(y)}</y>\n<w>{int(w)}</w>\n<h>{int(h)}</h>\n"
    elif kind == "c":
        body = "\n" + "".join(f"<{c}>{_num(v)}</{c}>\n" for c, v in zip("rgba", value))
    elif kind == "s":
        body = _cdata(str(value))
    elif kind == "b":
        body = "1" if value else "0"
    elif kind == "i":
        body = str(int(value))
    else:
        body = _num(value)
    return f"<property type='{kind}'>\n<key>{_cdata(key)}</key>\n<value>{body}</value>\n</property>\n"


def _value(key: str, default: str, locked_default_current: int = 0) -> str:
    return (f"<value>\n<key>{_cdata(key)}</key>\n<locked>0</locked>\n"
            f"<lockedDefaultCurrent>{locked_default_current}</lockedDefaultCurrent>\n"
            f"<default>{_cdata(default)}</default>\n<defaultPull>0</defaultPull>\n</value>\n")


def _partial(kind: str, conversion: str, value: str, lo: float = 0.0, hi: float = 1.0) -> str:
    return (f"<partial>\n<type>{kind}</type>\n<conversion>{conversion}</conversion>\n<value>{_cdata(value)}</value>\n"
            f"<scaleMin>{_num(lo)}</scaleMin>\n<scaleMax>{_num(hi)}</scaleMax>\n</partial>\n")


def _osc(address: str, trigger: str, condition: str, arguments: str, receive: bool) -> str:
    """One OSC message: sent when `trigger` changes as `condition` says, path one CONSTANT partial."""
    return ("<osc>\n<enabled>1</enabled>\n<send>1</send>\n"
            f"<receive>{1 if receive else 0}</receive>\n<feedback>0</feedback>\n"
            f"<connections>{_CONNECTIONS}</connections>\n"
            f"<triggers>\n<trigger>\n<var>{_cdata(trigger)}</var>\n<condition>{condition}</condition>\n</trigger>\n"
            f"</triggers>\n<path>\n{_partial('CONSTANT', 'STRING', address)}</path>\n"
            f"<arguments>\n{arguments}</arguments>\n</osc>\n")


def _node(node_type: str, name: str, props: list[tuple[str, str, Any]], values: str, messages: str = "",
          children: str = "") -> str:
    """A node with its properties sorted by key, as the editor saves them."""
    node_id = uuid.uuid5(_ID_NAMESPACE, name)
    body = "".join(_prop(k, key, v) for k, key, v in sorted(props, key=lambda p: p[1]))
    out = f"<node ID='{node_id}' type='{node_type}'>\n<properties>\n{body}</properties>\n<values>\n{values}</values>\n"
    if messages:
        out += f"<messages>\n{messages}</messages>\n"
    if children:
        out += f"<children>\n{children}</children>\n"
    return out + "</node>\n"


def _common(name: str, frame: list[int], color: tuple[float, ...], interactive: bool, background: bool = True,
            outline: bool = True, orientation: int = _NORTH) -> list[tuple[str, str, Any]]:
    """The properties every control type carries in an editor-saved file."""
    return [("b", "background", background), ("c", "color", color), ("f", "cornerRadius", 8.0),
            ("r", "frame", frame), ("b", "grabFocus", interactive), ("b", "interactive", interactive),
            ("b", "locked", False), ("s", "name", name), ("i", "orientation", orientation),
            ("b", "outline", outline), ("i", "outlineStyle", 1), ("i", "pointerPriority", 0),
            ("i", "shape", 1), ("b", "visible", True)]


# ---------------------------------------------------------------- reading and checking the description

def _fail(where: str, reason: str) -> ValueError:
    return ValueError(f"{where}: {reason}")


def _color(where: str, text: Any) -> tuple[float, ...]:
    if not isinstance(text, str) or not _COLOR.match(text):
        raise _fail(where, f"color must be '#RRGGBB' or '#RRGGBBAA', got {text!r}")
    hexes = text[1:] + ("FF" if len(text) == 7 else "")
    return tuple(round(int(hexes[i:i + 2], 16) / 255, 4) for i in range(0, 8, 2))


def _frame(where: str, value: Any, width: int, height: int) -> list[int]:
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise _fail(where, f"frame must be [x, y, w, h] in whole points, got {value!r}")
    x, y, w, h = value
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise _fail(where, f"frame {value} does not fit the {width}x{height} page")
    return value


def _address(where: str, control: dict, key: str = "address") -> str:
    if key not in control:
        raise _fail(where, f"missing '{key}'")
    text = control[key]
    if not isinstance(text, str) or not _ADDRESS.match(text):
        raise _fail(where, f"'{key}' must be an OSC address like /livedrum/swing, got {text!r}")
    return text


def _number(where: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"{what} must be a number, got {value!r}")
    return float(value)


def _unit(where: str, value: Any, what: str) -> float:
    v = _number(where, value, what)
    if not 0.0 <= v <= 1.0:
        raise _fail(where, f"{what} must be within 0..1, got {value!r}")
    return v


def _caption(name: str, text: str, frame: list[int], size: int) -> str:
    """A non-interactive label over a control: buttons carry no text, and taps fall through to the control."""
    props = _common(name, frame, (0.0, 0.0, 0.0, 0.0), interactive=False, background=False, outline=False)
    props += [("i", "font", 0), ("i", "textAlignH", _ALIGN_CENTER), ("i", "textAlignV", _ALIGN_MIDDLE),
              ("b", "textClip", True), ("c", "textColor", _color(name, _CAPTION_COLOR)), ("i", "textLength", 0),
              ("i", "textSize", size)]
    return _node("LABEL", name, props, _value("text", text, 1) + _value("touch", "false"))


def _caption_frame(kind: str, frame: list[int]) -> list[int]:
    """Buttons get the whole face; faders and the pad a strip along their top edge."""
    x, y, w, h = frame
    return list(frame) if kind in ("toggle", "button") else [x, y, w, min(h, 44)]


def _arguments(where: str, args: Any) -> str:
    """Constant arguments of a momentary button: strings as STRING, numbers as FLOAT."""
    if not isinstance(args, list):
        raise _fail(where, f"args must be a list of constants, got {args!r}")
    out = ""
    for arg in args:
        if isinstance(arg, str):
            out += _partial("CONSTANT", "STRING", arg)
        else:
            out += _partial("CONSTANT", "FLOAT", _num(_number(where, arg, "an argument")))
    return out


def _control(index: int, control: Any, width: int, height: int) -> tuple[str, str]:
    """(name, node XML and its caption) of one [[control]] entry."""
    if not isinstance(control, dict):
        raise ValueError(f"control #{index}: must be a table, got {control!r}")
    name = control.get("name")
    where = f"control #{index}" + (f" ({name})" if isinstance(name, str) else "")
    kind = control.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise _fail(where, f"'name' must be an identifier (letters, digits, _), got {name!r}")
    frame = _frame(where, control.get("frame"), width, height)
    color = _color(where, control.get("color", _DEFAULT_COLORS[kind]))
    label = control.get("label", "")
    if not isinstance(label, str):
        raise _fail(where, f"'label' must be text, got {label!r}")
    caption_size = int(_number(where, control.get("label_size", 22), "label_size"))

    if kind == "label":
        text = control.get("text", label)
        if not isinstance(text, str):
            raise _fail(where, f"'text' must be text, got {text!r}")
        props = _common(name, frame, color, interactive=False, outline=False)
        props += [("i", "font", 0), ("i", "textAlignH", _ALIGN_CENTER), ("i", "textAlignV", _ALIGN_MIDDLE),
                  ("b", "textClip", True), ("c", "textColor", _color(where, control.get("text_color", "#FFFFFF"))),
                  ("i", "textLength", 0), ("i", "textSize", caption_size)]
        return name, _node("LABEL", name, props, _value("text", text, 1) + _value("touch", "false"))

    if kind == "xy":
        x_address, y_address = _address(where, control, "x_address"), _address(where, control, "y_address")
        default = control.get("default", [0.5, 0.5])
        if not isinstance(default, list) or len(default) != 2:
            raise _fail(where, f"'default' must be [x, y], got {default!r}")
        dx, dy = (_unit(where, v, "default") for v in default)
        props = _common(name, frame, color, interactive=True)
        props += [("b", "cursor", True), ("i", "cursorDisplay", 0), ("i", "gridStepsX", 10), ("i", "gridStepsY", 10),
                  ("b", "gridX", True), ("b", "gridY", True), ("b", "lines", True), ("i", "linesDisplay", 0),
                  ("b", "lockX", False), ("b", "lockY", False), ("i", "response", 0), ("i", "responseFactor", 100)]
        values = _value("touch", "false") + _value("x", _num(dx)) + _value("y", _num(dy))
        # One message per axis, each with one float: the editor's default would send /name x y in one message.
        messages = (_osc(x_address, "x", "ANY", _partial("VALUE", "FLOAT", "x"), receive=True)
                    + _osc(y_address, "y", "ANY", _partial("VALUE", "FLOAT", "y"), receive=True))
        node = _node("XY", name, props, values, messages)

    elif kind == "fader":
        address = _address(where, control)
        span = control.get("range", [0.0, 1.0])
        if not isinstance(span, list) or len(span) != 2:
            raise _fail(where, f"'range' must be [min, max], got {span!r}")
        lo, hi = (_number(where, v, "range") for v in span)
        if lo == hi:
            raise _fail(where, f"'range' must not be empty, got {span!r}")
        default = _number(where, control.get("default", lo), "default")
        if not min(lo, hi) <= default <= max(lo, hi):
            raise _fail(where, f"default {default:g} is outside the range {lo:g}..{hi:g}")
        orientation = control.get("orientation", "vertical")
        if orientation not in ("vertical", "horizontal"):
            raise _fail(where, f"'orientation' must be vertical or horizontal, got {orientation!r}")
        steps = int(_number(where, control.get("grid_steps", 10), "grid_steps"))
        props = _common(name, frame, color, interactive=True,
                        orientation=_NORTH if orientation == "vertical" else _EAST)
        props += [("b", "bar", True), ("i", "barDisplay", 0), ("b", "cursor", True), ("i", "cursorDisplay", 0),
                  ("b", "grid", steps > 0), ("i", "gridSteps", max(steps, 0)), ("i", "response", 0),
                  ("i", "responseFactor", 100)]
        values = _value("touch", "false") + _value("x", _num((default - lo) / (hi - lo)))
        # x (0..1) is scaled to lo..hi in the message: the daemon gets real units (BPM for the tempo).
        node = _node("FADER", name, props, values,
                     _osc(address, "x", "ANY", _partial("VALUE", "FLOAT", "x", lo, hi), receive=True))

    elif kind == "toggle":
        address = _address(where, control)
        on = control.get("default", True)
        if not isinstance(on, bool):
            raise _fail(where, f"'default' of a toggle must be true or false, got {on!r}")
        props = _common(name, frame, color, interactive=True)
        props += [("i", "buttonType", _TOGGLE_PRESS), ("b", "press", True), ("b", "release", True),
                  ("b", "valuePosition", False)]
        values = _value("touch", "false") + _value("x", "1" if on else "0")
        # Sends x itself: 1.0 when switched on, 0.0 when off; an echo from the daemon sets it back.
        node = _node("BUTTON", name, props, values,
                     _osc(address, "x", "ANY", _partial("VALUE", "FLOAT", "x"), receive=True))

    else:  # button: momentary, fires once on press with its constants (or none)
        address = _address(where, control)
        props = _common(name, frame, color, interactive=True)
        props += [("i", "buttonType", _MOMENTARY), ("b", "press", True), ("b", "release", True),
                  ("b", "valuePosition", False)]
        values = _value("touch", "false") + _value("x", "0")
        # RISE: the press sends, the release does not. Nothing to receive: no value of its own to set.
        node = _node("BUTTON", name, props, values,
                     _osc(address, "x", "RISE", _arguments(where, control.get("args", [])), receive=False))

    if label:
        node += _caption(f"{name}_label", label, _caption_frame(kind, frame), caption_size)
    return name, node


def _document(description: Any) -> str:
    """The layout's XML text, checked as it is built."""
    if not isinstance(description, dict):
        raise ValueError("layout description must be a table")
    page = description.get("layout")
    if not isinstance(page, dict):
        raise ValueError("missing [layout] table (name, width, height, background)")
    name = page.get("name", "livedrum")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"[layout]: 'name' must be an identifier, got {name!r}")
    width, height = page.get("width"), page.get("height")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
        raise ValueError(f"[layout]: width and height must be positive whole points, got {width!r}x{height!r}")
    background = _color("[layout]", page.get("background", "#101216"))
    controls = description.get("control", [])
    if not isinstance(controls, list) or not controls:
        raise ValueError("no [[control]] entries")

    seen: set[str] = {name}
    children = ""
    for i, control in enumerate(controls, start=1):
        control_name, xml = _control(i, control, width, height)
        for n in (control_name, f"{control_name}_label"):
            if n in seen:
                raise ValueError(f"control #{i} ({control_name}): name {n!r} is used twice")
            seen.add(n)
        children += xml
    props = _common(name, [0, 0, width, height], background, interactive=False, outline=False)
    root = _node("GROUP", name, props, _value("touch", "false"), children=children)
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<lexml version='{LEXML_VERSION}'>\n{root}</lexml>\n"


# ---------------------------------------------------------------- public API

def build_layout(description: dict) -> bytes:
    """The .tosc bytes (zlib level 9 of the XML) for a parsed layout.toml; ValueError names what is wrong."""
    return zlib.compress(_document(description).encode("utf-8"), 9)


def load_description(toml_path: Path | str) -> dict:
    """The parsed TOML; a syntax error becomes a ValueError naming the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: only reading the TOML needs a parser, not the rest
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError as exc:
            raise ValueError("reading a layout .toml needs Python 3.11+ or the tomli package") from exc
    path = Path(toml_path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def write_layout(toml_path: Path | str, out_path: Path | str) -> Path:
    """Generate the .tosc for a layout.toml and write it; returns the path written."""
    data = build_layout(load_description(toml_path))
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return out


def read_layout(path: Path | str) -> ET.Element:
    """The <lexml> root of a .tosc file (decompressed and parsed), for tests and inspection."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {p}: {exc.strerror or exc}") from exc
    try:
        text = zlib.decompress(raw)
    except zlib.error as exc:
        raise ValueError(f"{p} is not a .tosc file (not zlib data: {exc})") from exc
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"{p} holds malformed XML: {exc}") from exc


def osc_messages(root: ET.Element) -> Iterable[tuple[ET.Element, ET.Element]]:
    """(node, <osc>) pairs of every OSC message in a parsed layout."""
    for node in root.iter("node"):
        messages = node.find("messages")
        if messages is not None:
            for osc in messages.findall("osc"):
                yield node, osc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m livedrum.touchosc",
                                     description="Generate the TouchOSC (.tosc) layout for the livedrum daemon.")
    parser.add_argument("layout", nargs="?", type=Path, default=DEFAULT_TOML,
                        help=f"layout description (default: {DEFAULT_TOML})")
    parser.add_argument("-o", "--out", type=Path,
                        help="output .tosc (default: <layout name>.tosc next to the description)")
    args = parser.parse_args(argv)
    try:
        description = load_description(args.layout)
        out = args.out
        if out is None:
            page = description.get("layout")
            name = page.get("name", "livedrum") if isinstance(page, dict) else "livedrum"
            out = args.layout.parent / f"{name}.tosc"
        data = build_layout(description)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
