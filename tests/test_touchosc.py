"""The TouchOSC layout: well-formed, one control per daemon address, and the committed .tosc matches its TOML."""

from __future__ import annotations

import copy
import uuid
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from livedrum.touchosc import build_layout, load_description, main, osc_messages, read_layout, write_layout

try:
    import tomllib  # noqa: F401
except ModuleNotFoundError:  # Python 3.10
    pytest.importorskip("tomli", reason="the layout is described in TOML")

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "touchosc"
TOML = PRESET_DIR / "layout.toml"
TOSC = PRESET_DIR / "livedrum.tosc"

KIT = ("kick", "snare", "hihat", "toms", "cymbals", "percussion")
PRESETS = ("rock", "pop", "hiphop", "jazz", "blues", "shuffle", "funk", "latin", "ballad")
FLOAT_ADDRESSES = {"/livedrum/swing": (0, 1), "/livedrum/humanize": (0, 1), "/livedrum/tempo": (40, 240)}
BARE_ADDRESSES = ("/livedrum/fill", "/livedrum/tap", "/livedrum/start", "/livedrum/stop")


def props(node: ET.Element) -> dict[str, str]:
    """Scalar properties of a node by key."""
    return {p.findtext("key"): p.findtext("value") for p in node.find("properties")}


def partials(osc: ET.Element, part: str) -> list[dict[str, str]]:
    return [{c.tag: c.text or "" for c in p} for p in osc.find(part).findall("partial")]


def address(osc: ET.Element) -> str:
    path = partials(osc, "path")
    assert all(p["type"] == "CONSTANT" and p["conversion"] == "STRING" for p in path), "path must be constants"
    return "".join(p["value"] for p in path)


def triggers(osc: ET.Element) -> list[tuple[str, str]]:
    return [(t.findtext("var"), t.findtext("condition")) for t in osc.find("triggers")]


def sends(root: ET.Element) -> dict[tuple[str, tuple[str, ...]], list[tuple[ET.Element, ET.Element]]]:
    """(address, constant arguments) -> the (node, <osc>) pairs that send it."""
    out: dict[tuple[str, tuple[str, ...]], list[tuple[ET.Element, ET.Element]]] = {}
    for node, osc in osc_messages(root):
        if osc.findtext("enabled") == "1" and osc.findtext("send") == "1":
            consts = tuple(a["value"] for a in partials(osc, "arguments") if a["type"] == "CONSTANT")
            out.setdefault((address(osc), consts), []).append((node, osc))
    return out


@pytest.fixture(scope="module")
def root() -> ET.Element:
    return read_layout(TOSC)


def the_one(root: ET.Element, addr: str, consts: tuple[str, ...] = ()) -> tuple[ET.Element, ET.Element]:
    found = sends(root).get((addr, consts), [])
    assert len(found) == 1, f"{addr} {consts}: {len(found)} controls send it, expected exactly one"
    return found[0]


def test_the_file_is_zlib_compressed_well_formed_lexml(root):
    raw = TOSC.read_bytes()
    assert raw[:2] == b"\x78\xda"  # zlib, level 9
    assert zlib.decompress(raw).startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<lexml version='3'>")
    assert root.tag == "lexml" and root.get("version") == "3"
    (page,) = root.findall("node")
    assert page.get("type") == "GROUP"
    frame = page.find("properties/property/[key='frame']/value")
    assert [int(frame.findtext(c)) for c in "xywh"] == [0, 0, 1280, 720]


def test_every_node_has_a_unique_id_and_typed_properties(root):
    ids = [n.get("ID") for n in root.iter("node")]
    assert len(ids) == len(set(ids)) and all(uuid.UUID(i) for i in ids)
    for node in root.iter("node"):
        for p in node.find("properties"):
            assert p.get("type") in {"b", "i", "f", "s", "r", "c"}
            value = p.find("value")
            if p.get("type") == "r":
                assert [c.tag for c in value] == ["x", "y", "w", "h"]
            if p.get("type") == "c":
                assert [c.tag for c in value] == ["r", "g", "b", "a"]
                assert all(0.0 <= float(c.text) <= 1.0 for c in value)


def test_the_xy_pad_sends_complexity_and_intensity_as_two_one_float_messages(root):
    node_x, osc_x = the_one(root, "/livedrum/complexity")
    node_y, osc_y = the_one(root, "/livedrum/intensity")
    assert node_x is node_y and node_x.get("type") == "XY"
    for osc, var in ((osc_x, "x"), (osc_y, "y")):
        assert triggers(osc) == [(var, "ANY")]
        (arg,) = partials(osc, "arguments")
        assert (arg["type"], arg["conversion"], arg["value"]) == ("VALUE", "FLOAT", var)
        assert (float(arg["scaleMin"]), float(arg["scaleMax"])) == (0.0, 1.0)
        assert osc.findtext("receive") == "1"  # the daemon's echo moves the cursor


@pytest.mark.parametrize("addr", sorted(FLOAT_ADDRESSES))
def test_faders_send_one_scaled_float_and_follow_the_echo(root, addr):
    node, osc = the_one(root, addr)
    assert node.get("type") == "FADER"
    assert triggers(osc) == [("x", "ANY")]
    (arg,) = partials(osc, "arguments")
    assert (arg["type"], arg["conversion"], arg["value"]) == ("VALUE", "FLOAT", "x")
    assert (float(arg["scaleMin"]), float(arg["scaleMax"])) == FLOAT_ADDRESSES[addr]
    assert osc.findtext("receive") == "1"


def test_the_tempo_fader_starts_at_120_bpm(root):
    node, _ = the_one(root, "/livedrum/tempo")
    x = node.find("values/value/[key='x']")
    assert 40 + float(x.findtext("default")) * 200 == pytest.approx(120)


@pytest.mark.parametrize("piece", KIT)
def test_kit_pieces_are_toggles_sending_one_or_zero(root, piece):
    node, osc = the_one(root, f"/livedrum/kit/{piece}")
    assert node.get("type") == "BUTTON"
    assert props(node)["buttonType"] in {"1", "2"}  # toggle on release / on press, not momentary (0)
    (arg,) = partials(osc, "arguments")
    assert (arg["type"], arg["conversion"], arg["value"]) == ("VALUE", "FLOAT", "x")
    assert (float(arg["scaleMin"]), float(arg["scaleMax"])) == (0.0, 1.0)
    assert osc.findtext("receive") == "1"
    assert node.find("values/value/[key='x']").findtext("default") == "1"  # all pieces on at start


@pytest.mark.parametrize(("addr", "names"), [("/livedrum/preset", PRESETS), ("/livedrum/mode", ("follow", "lead"))])
def test_presets_and_modes_are_momentary_buttons_sending_a_string(root, addr, names):
    for name in names:
        node, osc = the_one(root, addr, (name,))
        assert node.get("type") == "BUTTON" and props(node)["buttonType"] == "0"
        assert triggers(osc) == [("x", "RISE")]  # once per press, nothing on release
        (arg,) = partials(osc, "arguments")
        assert (arg["type"], arg["conversion"], arg["value"]) == ("CONSTANT", "STRING", name)


@pytest.mark.parametrize("addr", BARE_ADDRESSES)
def test_transport_buttons_are_momentary_without_arguments(root, addr):
    node, osc = the_one(root, addr)
    assert node.get("type") == "BUTTON" and props(node)["buttonType"] == "0"
    assert triggers(osc) == [("x", "RISE")]
    assert partials(osc, "arguments") == []


def test_nothing_else_is_sent(root):
    expected = {("/livedrum/complexity", ()), ("/livedrum/intensity", ())}
    expected |= {(a, ()) for a in FLOAT_ADDRESSES} | {(a, ()) for a in BARE_ADDRESSES}
    expected |= {(f"/livedrum/kit/{p}", ()) for p in KIT}
    expected |= {("/livedrum/preset", (p,)) for p in PRESETS} | {("/livedrum/mode", (m,)) for m in ("follow", "lead")}
    assert set(sends(root)) == expected


def test_buttons_have_captions(root):
    labels = {props(n)["name"]: n for n in root.iter("node") if n.get("type") == "LABEL"}
    for node in root.iter("node"):
        if node.get("type") == "BUTTON":
            caption = labels[props(node)["name"] + "_label"]
            assert props(caption)["interactive"] == "0"  # taps go through to the button
            assert caption.find("values/value/[key='text']").findtext("default")


def test_the_committed_file_is_what_the_toml_generates():
    committed = TOSC.read_bytes()
    generated = build_layout(load_description(TOML))
    assert zlib.decompress(generated) == zlib.decompress(committed), (
        "presets/touchosc/livedrum.tosc is out of date: run python -m livedrum.touchosc")
    if zlib.compress(zlib.decompress(committed), 9) != committed:
        pytest.skip("this zlib compresses differently from the one that wrote the file; the XML matches")
    assert generated == committed


def test_output_is_deterministic():
    description = load_description(TOML)
    assert build_layout(description) == build_layout(copy.deepcopy(description))


def test_write_layout_and_cli(tmp_path):
    out = write_layout(TOML, tmp_path / "a" / "x.tosc")
    assert out.read_bytes() == build_layout(load_description(TOML))
    assert main([str(TOML), "-o", str(tmp_path / "y.tosc")]) == 0
    assert (tmp_path / "y.tosc").read_bytes() == out.read_bytes()


def test_cli_reports_a_bad_layout_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[layout]\nwidth = 100\nheight = 100\n[[control]]\nkind = "knob"\nname = "k"\n'
                   'frame = [0, 0, 10, 10]\naddress = "/k"\n')
    assert main([str(bad), "-o", str(tmp_path / "bad.tosc")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "knob" in err and err.count("\n") == 1
    assert not (tmp_path / "bad.tosc").exists()


def minimal(**control) -> dict:
    base = {"kind": "fader", "name": "f", "frame": [0, 0, 50, 100], "address": "/livedrum/swing"}
    return {"layout": {"name": "t", "width": 200, "height": 200}, "control": [base | control]}


@pytest.mark.parametrize(("description", "words"), [
    (minimal(kind="knob"), ["control #1 (f)", "unknown kind 'knob'"]),
    (minimal(kind=None), ["unknown kind None"]),
    ({"layout": minimal()["layout"], "control": [{"kind": "toggle", "name": "t1", "frame": [0, 0, 9, 9]}]},
     ["control #1 (t1)", "missing 'address'"]),
    (minimal(kind="xy", address=None, x_address="/a"), ["missing 'y_address'"]),
    (minimal(address="livedrum/swing"), ["OSC address"]),
    (minimal(frame=[150, 0, 100, 10]), ["does not fit"]),
    (minimal(range=[1, 1]), ["'range' must not be empty"]),
    (minimal(default=2), ["outside the range"]),
    (minimal(color="red"), ["color must be"]),
    (minimal(kind="button", args="rock"), ["args must be a list"]),
    ({"layout": minimal()["layout"], "control": minimal()["control"] * 2}, ["used twice"]),
    ({"control": minimal()["control"]}, ["missing [layout]"]),
    ({"layout": minimal()["layout"]}, ["no [[control]]"]),
])
def test_a_malformed_description_gives_a_one_line_reason(description, words):
    with pytest.raises(ValueError) as info:
        build_layout(description)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_read_layout_rejects_what_is_not_a_tosc(tmp_path):
    junk = tmp_path / "junk.tosc"
    junk.write_bytes(b"not zlib")
    with pytest.raises(ValueError, match="not a .tosc"):
        read_layout(junk)
    broken = tmp_path / "broken.tosc"
    broken.write_bytes(zlib.compress(b"<lexml><node></lexml>"))
    with pytest.raises(ValueError, match="malformed XML"):
        read_layout(broken)
